"""Train a model: python train.py model=cnn data=fashion  (--help lists every option).

The same as ``litexp train ...`` once litexp is installed (src/litexp/commands/train.py).
"""

from litexp.cli import run_main
from litexp.commands.train import main

if __name__ == "__main__":
    run_main(main)
