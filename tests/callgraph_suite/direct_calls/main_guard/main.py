"""A script whose entry point is a function named like its module."""
import sys


def parse(argv):
    return list(argv)


def main(argv=None):
    args = parse(argv if argv is not None else sys.argv[1:])
    return len(args)


if __name__ == "__main__":
    print(main([]))
