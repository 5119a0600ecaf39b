def pong(n):
    import ping

    return ping.ping(n)
