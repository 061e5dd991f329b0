"""The lock-free link between the audio callback and a live view (``rtsynth play --ui``).

Three one-way channels, all preallocated before the stream starts:

- **meters** (callback -> view): :attr:`UiLink.levels`, a float64 array the
  callback writes once a block (peak with a 20 dB/s fall, and a smoothed mean
  square, of the output and the input) with one numba call that allocates
  nothing; the DSP load and xrun count are the host's
  :class:`~rtsynth.host.runtime.DspMeter`, read as they are.
- **MIDI monitor** (callback -> view): every raw MIDI message the callback
  handles is pushed into :attr:`UiLink.monitor`, an
  :class:`~rtsynth.control.EventQueue` (a non-blocking write into numpy
  slots); the view drains it for its activity display and for MIDI learn. A
  full monitor drops messages, never blocks.
- **commands** (view -> callback): :attr:`UiLink.commands`, a bounded
  :class:`~rtsynth.control.inbox.CommandQueue` of the engine's command tuples (notes from the
  computer keyboard, parameter moves). The callback drains it at the start of
  each block into the same event slots the MIDI input fills, so a command from
  the view takes exactly the path a MIDI message does after mapping.

Reads on the view side are snapshots taken without a lock: a meter may be one
block old, never torn in a way that matters for a display.
"""

import numpy as np
from numba import njit

from ..control.events import EventQueue
from ..control.inbox import CommandQueue

__all__ = ["UiLink", "LEVELS", "PEAK_FALL_DB_PER_S", "RMS_TIME"]

#: layout of :attr:`UiLink.levels`
LEVELS = ("out_peak", "out_ms", "in_peak", "in_ms")
#: how fast a peak meter falls back (dB per second), as on a mixing desk
PEAK_FALL_DB_PER_S = 20.0
#: time constant of the mean-square meter (s)
RMS_TIME = 0.3


class UiLink:
    """What a live host shares with a view: meters, a MIDI monitor and a command queue.

    Parameters
    ----------
    monitor_capacity, command_capacity : int

    Attributes
    ----------
    levels : ndarray, shape (4,)
        See :data:`LEVELS`; linear amplitude (peak) and power (mean square).
    monitor : rtsynth.control.EventQueue
        Raw MIDI ``(offset, status, data1, data2)`` seen by the callback.
    commands : rtsynth.control.inbox.CommandQueue
        Command tuples for the engine (the view is its one producer).
    """

    def __init__(self, monitor_capacity=1024, command_capacity=256):
        self.levels = np.zeros(len(LEVELS))
        self.monitor = EventQueue(monitor_capacity)
        self.commands = CommandQueue(command_capacity)
        self.configure(48000, 256)

    def configure(self, rate, block):
        """Set the meter ballistics for ``rate`` and ``block`` and compile the meter
        kernel for the array layouts the hosts pass (before the stream starts)."""
        self._fall = 10.0 ** (-PEAK_FALL_DB_PER_S * block / rate / 20.0)
        self._alpha = float(1.0 - np.exp(-block / (RMS_TIME * rate)))
        scratch = np.zeros(len(LEVELS))
        for x in (np.zeros(8, np.float32), np.zeros((8, 2), np.float32)[:, 0],
                  np.zeros(8, np.float64)):
            _measure(x, scratch, 0, self._fall, self._alpha)

    # ------------------------------------------------- audio callback side
    def measure(self, out, inp=None):
        """Meter one block of output (and input); called once per block by the callback."""
        _measure(out, self.levels, 0, self._fall, self._alpha)
        if inp is not None:
            _measure(inp, self.levels, 2, self._fall, self._alpha)

    # ------------------------------------------------------------ view side
    def send(self, command):
        """Queue one engine command (view side); False when the queue is full."""
        return self.commands.push(command)


@njit(cache=True, nogil=True)
def _measure(x, levels, at, fall, alpha):
    # one pass: the block's peak (held against the falling previous one) and mean square
    peak = 0.0
    ss = 0.0
    for i in range(x.shape[0]):
        v = float(x[i])
        ss += v * v
        if abs(v) > peak:
            peak = abs(v)
    held = levels[at] * fall
    levels[at] = peak if peak > held else held
    if x.shape[0] > 0:
        levels[at + 1] += alpha * (ss / x.shape[0] - levels[at + 1])
