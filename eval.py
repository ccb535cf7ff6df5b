"""Test a checkpoint: python eval.py ckpt_path=<file.ckpt>"""

import sys

import hydra
from omegaconf import DictConfig

from litexp.cli import flags_first, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    from litexp.evaluate import evaluate  # torch loads only once Hydra has accepted the config

    run_task(evaluate, cfg)


if __name__ == "__main__":
    sys.argv = flags_first(sys.argv)
    main()
