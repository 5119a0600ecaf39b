class Shell:
    def do_list(self):
        return ["a"]

    def do_quit(self):
        return "bye"

    def run(self, command):
        handler = getattr(self, "do_" + command)
        return handler()


shell = Shell()
print(shell.run("list"), shell.run("quit"))
