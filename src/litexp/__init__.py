"""litexp: deep-learning experiments from config (PyTorch Lightning + Hydra)."""

from litexp.spec import DataSpec

__version__ = "0.1.0"
__all__ = ["DataSpec", "__version__"]
