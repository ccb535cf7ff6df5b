"""litexp: deep-learning experiments from config (PyTorch Lightning + Hydra)."""

__version__ = "0.1.0"
