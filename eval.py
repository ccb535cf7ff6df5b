"""Test a checkpoint: python eval.py ckpt_path=<file.ckpt>

The same as ``litexp eval ...`` once litexp is installed (src/litexp/commands/eval.py).
"""

from litexp.cli import run_main
from litexp.commands.eval import main

if __name__ == "__main__":
    run_main(main)
