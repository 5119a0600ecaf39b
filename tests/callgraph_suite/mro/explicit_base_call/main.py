class Logger:
    def write(self, msg):
        return "[log] " + msg


class TimestampLogger(Logger):
    def write(self, msg):
        return Logger.write(self, "t=0 " + msg)


loggers = [Logger(), TimestampLogger()]
for lg in loggers:
    print(lg.write("x"))
