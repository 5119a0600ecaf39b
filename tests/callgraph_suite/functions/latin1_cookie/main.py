# -*- coding: latin-1 -*-
"""Grüße: this module is saved in Latin-1, as its cookie says."""


def grüße(name):
    return "Grüß " + name


def café():
    return grüße("Zoë")


print(café())
