"""``litexp eval`` / ``python eval.py``: test a checkpoint."""

import hydra
from omegaconf import DictConfig

from litexp.commands import CONF_DIR, run_command


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    from litexp.evaluate import evaluate  # torch loads only once Hydra has accepted the config

    run_command(evaluate, cfg)
