"""litexp's Optuna sweeper for Hydra: ``hydra/sweeper=litexp_optuna`` (Optuna >= 4)."""
