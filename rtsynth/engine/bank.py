"""The synth's voices as one struct of arrays, and the two kernels every render step runs.

A live block is cut into steps at each MIDI event's sample (sample-accurate
play), at each control tick and start slot. A chord from a sequencer, or a
MIDI storm, can put dozens of events in one block, and each step touches
every sounding voice: asking it for due frames, then enveloping and mixing
its samples. Done voice by voice in Python that cost about 4 µs per voice
per step: a 32-voice chord pressed again (64 events in one 256-sample block)
took 8 ms, over the 5.3 ms period. Here each voice's output FIFO, read/fill
positions, envelope state and gain are rows of shared arrays, so a step is
two numba calls whatever the voice count: :func:`plan` (which voices sound,
and how many frames each must make first) and :func:`emit` (envelope and mix
for all of them). Python then only visits the voices that have a frame due.
"""

import numpy as np
from numba import njit

from .envelope import IDLE, env_step

__all__ = ["VoiceBank", "plan", "emit"]


class VoiceBank:
    """Per-voice state of ``n_slots`` voices, one row each.

    Parameters
    ----------
    n_slots : int
        Voices (playing and fading tails together).
    fifo_len : int
        Samples of each voice's output FIFO.

    Attributes
    ----------
    fifo : ndarray, shape (n_slots, fifo_len), float64
        Overlap-added samples not yet emitted.
    pos : ndarray, shape (n_slots, 2), int64
        Read and fill positions in ``fifo``.
    env_state, env_params : ndarray, shape (n_slots, 3) and (n_slots, 4)
        :class:`~rtsynth.engine.envelope.ADSR` storage (stage, level, release
        step; attack, decay steps, sustain, release samples).
    gain : ndarray, shape (n_slots,)
        Velocity gain.
    lead : ndarray, shape (n_slots,), int64
        Samples by which each voice makes its frames early (see Voice).
    playing, due : ndarray, shape (n_slots,), int64
        :func:`plan`'s output: the sounding slots, and the frames each must make.
    """

    def __init__(self, n_slots, fifo_len):
        self.fifo = np.zeros((n_slots, fifo_len))
        self.pos = np.zeros((n_slots, 2), np.int64)
        self.env_state = np.zeros((n_slots, 3))
        self.env_params = np.zeros((n_slots, 4))
        self.gain = np.zeros(n_slots)
        self.lead = np.zeros(n_slots, np.int64)
        self.playing = np.zeros(n_slots, np.int64)
        self.due = np.zeros(n_slots, np.int64)


@njit(cache=True, nogil=True)
def plan(env_state, pos, fifo, lead, hop, n, playing, due):
    """Sounding slots into ``playing[:k]`` and the frames each must make before
    ``n`` more samples (plus its lead) can be emitted into ``due[:k]``; returns k.

    A slot short of samples first has its unread samples moved to the front of
    its FIFO, so the frames it makes are appended without running off the end.
    """
    k = 0
    for s in range(env_state.shape[0]):
        if env_state[s, 0] == IDLE:
            continue
        playing[k] = s
        need = n + lead[s]
        read, fill = pos[s, 0], pos[s, 1]
        if fill - read >= need:
            due[k] = 0
        else:
            m = fill - read
            for i in range(m):
                fifo[s, i] = fifo[s, read + i]
            pos[s, 0], pos[s, 1] = 0, m
            due[k] = (need - m + hop - 1) // hop
        k += 1
    return k


@njit(cache=True, nogil=True)
def emit(out, playing, k, fifo, pos, env_state, env_params, gain):
    """Add the next ``len(out)`` samples of slots ``playing[:k]``, each through its
    envelope and gain, into ``out``; returns how many of them fell silent."""
    n = out.shape[0]
    ended = 0
    for j in range(k):
        s = playing[j]
        read = pos[s, 0]
        g = gain[s]
        stage, level, rstep = int(env_state[s, 0]), env_state[s, 1], env_state[s, 2]
        params = env_params[s]
        for i in range(n):
            stage, level = env_step(stage, level, rstep, params)
            out[i] += fifo[s, read + i] * level * g
        env_state[s, 0], env_state[s, 1] = stage, level
        pos[s, 0] = read + n
        if stage == IDLE:
            ended += 1
    return ended
