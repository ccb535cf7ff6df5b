"""``litexp predict`` / ``python predict.py``: classify images with a checkpoint."""

import hydra
from omegaconf import DictConfig

from litexp.commands import CONF_DIR, run_command


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    from litexp.predict import predict  # torch loads only once Hydra has accepted the config

    run_command(predict, cfg)
