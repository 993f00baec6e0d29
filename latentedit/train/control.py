"""Run control for the training loop: per-step random generators (independent of any global RNG
state, so a resumed run draws exactly what an uninterrupted one would) and the Ctrl-C stop flag."""
from __future__ import annotations

import signal
import threading

import numpy as np
import torch


def step_generator(seed: int, step: int, stream: int) -> torch.Generator:
    """CPU generator for one (step, stream); independent of any global RNG state."""
    s = int(np.random.SeedSequence([seed, step, stream]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator().manual_seed(s)


class StopFlag:
    """First Ctrl-C (SIGINT) asks the loop to checkpoint and stop after the current step."""

    def __init__(self) -> None:
        self.stop = False
        self._old = None

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.stop:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
