def encode(s):
    return s.encode()


def decode(b):
    return b.decode()


def codec():
    return encode, decode


enc, dec = codec()
print(dec(enc("hé")))
