import tools.text.fmt
import tools.text.fmt as fmt

print(fmt.title("a"), tools.text.fmt.title("b"))
