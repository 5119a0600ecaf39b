import argparse


class CliParser(argparse.ArgumentParser):
    def add_flag(self, name):
        self.add_argument("--" + name, action="store_true")
        return self


parser = CliParser(prog="demo")
parser.add_flag("verbose").add_flag("quiet")
print(parser.parse_args(["--verbose"]).verbose)
