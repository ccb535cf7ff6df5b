"""Plain ``nn.Module`` nets: layers and ``forward`` only, no training logic."""

from litexp.nets.mlp import MLPNet

__all__ = ["MLPNet"]
