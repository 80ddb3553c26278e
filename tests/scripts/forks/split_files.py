"""A fork split across files, as vb64/microgpt's package is: the training loop is the method `learn` of a
model object in split_model.py, so step K's tokens are locals of a frame of another module than this
one. Usage: python split_files.py [NUM_STEPS]"""

import sys

from split_model import Model


def main():
    model = Model("ada bo cy dee eve fay".split())
    model.learn(int(sys.argv[1]) if len(sys.argv) > 1 else 100)


main()
