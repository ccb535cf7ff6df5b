"""``litexp train`` / ``python train.py``: train a model from config."""

import hydra
from omegaconf import DictConfig

from litexp.commands import CONF_DIR, run_command


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    from litexp.train import train  # torch loads only once Hydra has accepted the config

    run_command(train, cfg)
