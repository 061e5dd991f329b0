"""Per-voice ADSR amplitude envelope, rendered sample by sample (numba)."""

import numpy as np
from numba import njit

__all__ = ["ADSR", "MIN_RAMP_S", "env_step", "IDLE"]

#: shortest attack/release ramp: long enough to never click, short enough (<= 3 ms)
#: that an attack of 0 still sounds immediate
MIN_RAMP_S = 0.002

_IDLE, _ATTACK, _DECAY, _SUSTAIN, _RELEASE = 0, 1, 2, 3, 4
#: the stage of a silent envelope (``state[0]``), for kernels reading many at once
IDLE = _IDLE


class ADSR:
    """Linear attack-decay-sustain-release envelope.

    Parameters
    ----------
    sample_rate : float
        Hz.
    attack, decay, release : float
        Seconds; attack and release are at least :data:`MIN_RAMP_S`.
    sustain : float
        Level 0..1 held after the decay.
    state, params : ndarray, shape (3,) and (4,), float64, optional
        Storage for the state (stage, level, release step) and the per-sample
        steps, e.g. a row of a :class:`~rtsynth.engine.bank.VoiceBank`, whose
        kernel renders many envelopes in one call.
    """

    def __init__(self, sample_rate, attack=0.005, decay=0.1, sustain=0.8, release=0.3, *,
                 state=None, params=None):
        self.sample_rate = float(sample_rate)
        self._state = np.zeros(3) if state is None else state
        self._params = np.zeros(4) if params is None else params
        self._state[:] = 0.0
        self.set(attack, decay, sustain, release)

    def set(self, attack, decay, sustain, release):
        """Change the times (s) and sustain level (0..1); applies from the next sample."""
        sr = self.sample_rate
        self._params[0] = 1.0 / max(1.0, max(attack, MIN_RAMP_S) * sr)
        self._params[1] = 1.0 / max(1.0, decay * sr)
        self._params[2] = min(1.0, max(0.0, sustain))
        self._params[3] = max(1.0, max(release, MIN_RAMP_S) * sr)

    def note_on(self):
        """Start the attack from the current level (a retrigger never jumps)."""
        self._state[0] = _ATTACK

    def note_off(self, fast=False):
        """Start the release; ``fast`` uses the minimal ramp (voice stealing)."""
        if self._state[0] == _IDLE:
            return
        samples = MIN_RAMP_S * self.sample_rate if fast else self._params[3]
        self._state[2] = self._state[1] / max(1.0, samples)
        self._state[0] = _RELEASE

    def reset(self):
        """Silence at once."""
        self._state[:] = 0.0

    @property
    def active(self):
        """False once the release has reached 0."""
        return self._state[0] != _IDLE

    @property
    def releasing(self):
        return self._state[0] == _RELEASE

    def render(self, out):
        """Write the next ``len(out)`` envelope values into ``out``; return ``out``."""
        _render(self._state, self._params, out)
        return out


@njit(cache=True, nogil=True, inline="always")
def env_step(stage, level, rstep, params):
    """One sample of the envelope: the next (stage, level)."""
    if stage == _ATTACK:
        level += params[0]
        if level >= 1.0:
            level, stage = 1.0, _DECAY
    elif stage == _DECAY:
        level -= params[1]
        if level <= params[2]:
            level, stage = params[2], _SUSTAIN
    elif stage == _SUSTAIN:
        level = params[2]
    elif stage == _RELEASE:
        level -= rstep
        if level <= 0.0:
            level, stage = 0.0, _IDLE
    return stage, level


@njit(cache=True, nogil=True)
def _render(state, params, out):
    stage, level, rstep = int(state[0]), state[1], state[2]
    for i in range(out.shape[0]):
        stage, level = env_step(stage, level, rstep, params)
        out[i] = level
    state[0], state[1] = stage, level
