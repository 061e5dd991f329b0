"""The last stage of every engine: NaN guard and peak limiter, output always in [-1, 1]."""

import math

import numpy as np
from numba import njit

from .smoothing import RAMP_SAMPLES, ramp_sample

__all__ = ["SafetyLimiter", "all_finite"]


class SafetyLimiter:
    """Instant-attack peak limiter with a smooth release, plus a NaN/Inf guard.

    Non-finite samples become 0 (counted in ``nonfinite_count``); the gain
    drops at once to keep ``|y| <= ceiling`` and recovers with time constant
    ``release`` seconds; a final clip makes ``[-1, 1]`` a guarantee rather
    than an expectation.

    Parameters
    ----------
    sample_rate : float
    ceiling : float
        Peak level, linear (0.98 = -0.18 dBFS).
    release : float
        Gain recovery time constant in seconds.
    ramp : int
        Samples of the linear ramp of :meth:`set_volume` changes: a master
        volume before the limiter that moves without zipper noise. At volume 1
        the stage multiplies by exactly 1.0, so the output is unchanged bit for bit.
    """

    def __init__(self, sample_rate, ceiling=0.98, release=0.1, ramp=RAMP_SAMPLES):
        # gain, non-finite count, volume now, ramp samples left
        self._state = np.array([1.0, 0.0, 1.0, 0.0])
        self._params = np.array([ceiling, 1.0 - math.exp(-1.0 / (release * sample_rate)),
                                 1.0, float(ramp)])
        self.latency_samples = 0

    @property
    def nonfinite_count(self):
        return int(self._state[1])

    @property
    def gain(self):
        """Current gain (1.0 when not limiting)."""
        return float(self._state[0])

    @property
    def volume(self):
        """Master volume target (linear)."""
        return float(self._params[2])

    def set_volume(self, gain):
        """Master volume (linear, >= 0), reached along a ramp of ``ramp`` samples."""
        if gain != self._params[2]:
            self._params[2] = gain
            self._state[3] = self._params[3]

    def reset(self):
        """Limiter gain 1, counter 0, the volume at its target at once."""
        self._state[0] = 1.0
        self._state[1] = 0.0
        self._state[2] = self._params[2]
        self._state[3] = 0.0

    def process(self, block, out=None):
        """Limit ``block``; ``out`` may be ``block`` itself. Returns ``out``."""
        if out is None:
            out = np.empty_like(block)
        _limit(block, self._state, self._params, out)
        return out


@njit(cache=True, nogil=True)
def all_finite(x):
    """True when every value of the 1-D array ``x`` is finite (no temporaries, unlike
    ``np.isfinite(x).all()``): the engines' check of a model's output on the audio path."""
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return False
    return True


@njit(cache=True, nogil=True)
def _limit(x, state, params, out):
    g, bad, vol, left = state[0], state[1], state[2], int(state[3])
    ceiling, rel, vol_target = params[0], params[1], params[2]
    for i in range(x.shape[0]):
        if vol != vol_target:
            vol, left = ramp_sample(vol, vol_target, left)
        v = x[i] * vol
        if not math.isfinite(v):
            v = 0.0
            bad += 1
        a = abs(v)
        target = ceiling / a if a > ceiling else 1.0
        if target < g:
            g = target
        else:
            g += (target - g) * rel
        v *= g
        out[i] = min(1.0, max(-1.0, v))
    state[0], state[1], state[2], state[3] = g, bad, vol, left
