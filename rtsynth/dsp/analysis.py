"""Streaming STFT analysis: audio blocks of any size in, complete frames out."""

import numpy as np

from ..errors import InputError
from .stft import check_geometry, first_frame
from .windows import hann

__all__ = ["StreamingSTFT"]


class StreamingSTFT:
    """Frame-by-frame STFT of an unbounded stream, identical to :func:`~rtsynth.dsp.stft`.

    Frame ``n`` (window centred at sample ``n*hop``) is emitted by the call
    that delivers input sample ``n*hop + n_fft/2 - 1``, its last sample. The
    first frame emitted is ``first_frame(n_fft, hop)`` (<= 0): samples before
    the stream started count as zeros. The concatenated output of any sequence
    of block sizes equals ``stft(x, n_fft, hop)`` of the concatenated input.

    Parameters
    ----------
    n_fft : int
        Window/FFT length in samples (even).
    hop : int
        Hop in samples, 1 .. n_fft/2.

    Attributes
    ----------
    latency_samples : int
        ``n_fft//2 - 1``: how many samples after a frame's centre sample it is
        emitted.
    next_frame : int
        Index of the next frame to be emitted.
    """

    def __init__(self, n_fft, hop):
        check_geometry(n_fft, hop)
        self.n_fft = int(n_fft)
        self.hop = int(hop)
        self.n_bins = self.n_fft // 2 + 1
        self.latency_samples = self.n_fft // 2 - 1
        self._window = hann(self.n_fft)
        # each sample is stored twice (i and i+n_fft) so that the last n_fft
        # samples are always one contiguous slice: no wrap-around copies
        self._ring = np.zeros(2 * self.n_fft, dtype=np.float64)
        self._frame = np.zeros(self.n_fft, dtype=np.float64)
        self.reset()

    def reset(self):
        """Forget all input: the next sample is sample 0 of a new stream."""
        self._ring[:] = 0.0
        self._pos = 0
        self.next_frame = first_frame(self.n_fft, self.hop)

    def frames_ready(self, n_samples):
        """Number of frames the next ``process`` of ``n_samples`` samples emits."""
        end = self._pos + int(n_samples)
        # frame n is complete once end >= n*hop + n_fft/2
        last = (end - self.n_fft // 2) // self.hop
        return max(0, last - self.next_frame + 1)

    def process(self, block, out=None):
        """Feed samples; return the frames they complete.

        Parameters
        ----------
        block : ndarray, shape (n,), float
            The next ``n`` samples of the stream (any ``n >= 0``).
        out : ndarray, shape (frames_ready(n), n_fft//2+1), complex128, optional
            Where to write the frames (allocation-free use).

        Returns
        -------
        ndarray, shape (k, n_fft//2+1), complex128
            ``out`` when given, else a new array; ``k = frames_ready(n)``.
        """
        block = np.asarray(block)
        if block.ndim != 1:
            raise InputError(f"block.shape={block.shape}: expected a 1-D block of samples")
        k = self.frames_ready(block.shape[0])
        if out is None:
            out = np.empty((k, self.n_bins), dtype=np.complex128)
        elif out.shape != (k, self.n_bins):
            raise InputError(
                f"out.shape={out.shape}: expected ({k}, {self.n_bins}) for a block of "
                f"{block.shape[0]} samples")
        n_fft, half, hop = self.n_fft, self.n_fft // 2, self.hop
        done = 0
        for i in range(k):
            # samples up to the end of frame next_frame
            upto = (self.next_frame * hop + half) - self._pos
            self._write(block[done:done + upto])
            done += upto
            head = self._pos % n_fft
            np.multiply(self._ring[head:head + n_fft], self._window, out=self._frame)
            np.fft.rfft(self._frame, out=out[i])
            self.next_frame += 1
        self._write(block[done:])
        return out

    @property
    def samples_seen(self):
        """Total number of samples fed since construction or reset."""
        return self._pos

    def _write(self, samples):
        n = samples.shape[0]
        if n == 0:
            return
        n_fft = self.n_fft
        if n > n_fft:
            # only the last n_fft samples can still reach a frame
            self._pos += n - n_fft
            samples = samples[n - n_fft:]
            n = n_fft
        head = self._pos % n_fft
        first = min(n, n_fft - head)
        ring = self._ring
        ring[head:head + first] = samples[:first]
        ring[head + n_fft:head + n_fft + first] = samples[:first]
        if first < n:
            rest = n - first
            ring[:rest] = samples[first:]
            ring[n_fft:n_fft + rest] = samples[first:]
        self._pos += n
