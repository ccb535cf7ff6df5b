"""Train a model: python train.py model=cnn data=fashion  (--help lists every option)."""

import sys

import hydra
from omegaconf import DictConfig

from litexp.cli import flags_first, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    from litexp.train import train  # torch loads only once Hydra has accepted the config

    run_task(train, cfg)


if __name__ == "__main__":
    sys.argv = flags_first(sys.argv)
    main()
