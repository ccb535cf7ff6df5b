"""Classify images: python predict.py ckpt_path=<file.ckpt> input=<image or folder>"""

import sys

import hydra
from omegaconf import DictConfig

from litexp.cli import flags_first, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    from litexp.predict import predict  # torch loads only once Hydra has accepted the config

    run_task(predict, cfg)


if __name__ == "__main__":
    sys.argv = flags_first(sys.argv)
    main()
