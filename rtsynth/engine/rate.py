"""Running a model-rate block processor at the device rate, with an exact integer delay.

device block -> resample to the model rate -> the processor (fixed delay ``L``
model samples) -> resample back -> a FIFO -> device block of the same size.

Why the delay is exact: both resamplers are linear-phase and centred on
their output instants (no delay of their own, see
:mod:`rtsynth.engine.resample`). ``L`` model samples are ``L * p / q`` device
samples (``p/q`` = device/model rate in lowest terms), usually not an integer,
so the way back evaluates the model signal on a grid shifted by the fraction
that rounds this up to the integer ``E = ceil(L * p / q)``. The resamplers
withhold output until their look-ahead has arrived; the FIFO starts with
``P`` zeros, ``P`` being the largest shortfall ``N - out(N)`` over every input
count ``N`` (a closed formula, so no block pattern can underrun it). The
delay is then ``E + P`` device samples, for any block sizes.
"""

import math

import numpy as np

from ..dsp.buffers import move_to_front
from .resample import StreamResampler

__all__ = ["RateBridge"]


class RateBridge:
    """Block-in, block-out at ``device_rate`` around a processor at ``model_rate``.

    Parameters
    ----------
    inner : callable
        ``inner(block, out)``: processes model-rate samples (any count, up to
        :attr:`max_model_block`) into ``out`` with a fixed delay.
    inner_latency : int
        That delay in model samples.
    model_rate, device_rate : int
    max_block : int
        Largest device block :meth:`process` receives.

    Attributes
    ----------
    latency_samples : int
        Exact input-to-output delay in device samples (``E + P``, module doc).
    resampler_samples : float
        The part the resampling adds to ``inner_latency`` mapped to the device rate.
    underruns : int
        Periods the FIFO could not fill (0 by construction; counted, never raised).
    """

    def __init__(self, inner, inner_latency, model_rate, device_rate, max_block=8192):
        g = math.gcd(int(device_rate), int(model_rate))
        p, q = int(device_rate) // g, int(model_rate) // g
        self.max_block = int(max_block)
        self._inner = inner
        self._down = StreamResampler(device_rate, model_rate, max_in=self.max_block)
        self.max_model_block = self._down.max_out(self.max_block)
        lag = -(-int(inner_latency) * p // q)  # E: the inner delay rounded up to device samples
        # back on the grid shifted by the rounding (offset in 1/p model samples, <= 0)
        self._up = StreamResampler(model_rate, device_rate, max_in=self.max_model_block,
                                   offset=int(inner_latency) * p - lag * q)
        self._prefill = self._shortfall()
        self.latency_samples = lag + self._prefill
        self.resampler_samples = self.latency_samples - int(inner_latency) * p / q
        self._model_in = np.zeros(self.max_model_block)
        self._model_out = np.zeros(self.max_model_block)
        self._fifo = np.zeros(self._prefill + 2 * self.max_block
                              + self._up.max_out(self.max_model_block))
        self.reset()

    def reset(self):
        self.underruns = 0
        self._down.reset()
        self._up.reset()
        self._fifo[:] = 0.0
        self._read, self._fill = 0, self._prefill

    def process(self, block, out):
        """Process ``len(block)`` device samples into ``out`` (same length); return ``out``."""
        m = self._down.process(block, self._model_in)
        if m:
            self._inner(self._model_in[:m], self._model_out[:m])
        if self._read:  # unread samples to the front, so appends never run off the end
            self._fill = move_to_front(self._fifo, self._read, self._fill)
            self._read = 0
        self._fill += self._up.process(self._model_out[:m], self._fifo[self._fill:])
        n = block.shape[0]
        if self._fill - self._read < n:  # cannot happen with the computed prefill; never crash
            self.underruns += 1
            self._fifo[self._fill:self._read + n] = 0.0
            self._fill = self._read + n
        out[:n] = self._fifo[self._read:self._read + n]
        self._read += n
        return out

    def _shortfall(self):
        # the most samples the FIFO can be asked for beyond what has come out,
        # over every total input count: past the start-up, the shortfall is
        # periodic in the input count with the device side of the ratio
        d, u = self._down, self._up
        startup = 4 * (d.half_taps + u.half_taps * -(-u.up // u.down) + d.down)
        n = np.arange(0, startup + 2 * d.down + 1, dtype=np.int64)
        return int(np.max(n - self._up.count(self._down.count(n))))
