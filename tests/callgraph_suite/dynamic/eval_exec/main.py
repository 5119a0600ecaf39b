def target():
    return "hit"


def via_eval():
    return eval("target()")


exec("print(via_eval())")
