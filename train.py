"""Train a model: python train.py model=cnn data=fashion  (--help lists every option)."""

import hydra
from omegaconf import DictConfig

from litexp.cli import run_task
from litexp.train import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    run_task(train, cfg)


if __name__ == "__main__":
    main()
