"""The Trainer's profiler when none is asked for: Lightning's, minus its per-call cost."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

from lightning.pytorch.profilers import PassThroughProfiler

_NOTHING = contextlib.nullcontext()  # stateless: one instance serves every call


class NoProfiler(PassThroughProfiler):
    """Profiles nothing, like Lightning's default ``PassThroughProfiler``, but cheaply.

    Lightning wraps every hook of every callback in ``profiler.profile(name)``: about 50
    times a training step. The default builds a generator-based context manager each
    time (~3 us on a CPU); this returns one shared no-op context. Any real profiler
    (``+trainer.profiler=simple``, ``advanced``, ``pytorch``) replaces it.
    """

    def profile(self, action_name: str) -> AbstractContextManager:
        return _NOTHING
