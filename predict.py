"""Classify images: python predict.py ckpt_path=<file.ckpt> input=<image or folder>

The same as ``litexp predict ...`` once litexp is installed (src/litexp/commands/predict.py).
"""

from litexp.cli import run_main
from litexp.commands.predict import main

if __name__ == "__main__":
    run_main(main, trainer=False)
