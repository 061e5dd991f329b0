"""Streaming analysis -> per-frame processing -> synthesis, with a fixed delay."""

import numpy as np

from ..errors import InputError
from .analysis import StreamingSTFT
from .buffers import move_to_front
from .overlap_add import OverlapAdd
from .stft import first_frame

__all__ = ["StftProcessor"]


class StftProcessor:
    """Block-in, block-out STFT processing with an exact, fixed latency.

    Every block of ``n`` input samples returns ``n`` output samples. Frames
    complete in the analysis are handed to ``frame_fn(index, spectrum)``
    (which may modify ``spectrum`` in place) and overlap-added. Without a
    ``frame_fn`` the output is the input delayed by ``latency_samples``
    (to float64 rounding), for any sequence of block sizes.

    Parameters
    ----------
    n_fft : int
        Window/FFT length (even).
    hop : int
        Hop in samples, 1 .. n_fft/2.
    frame_fn : callable, optional
        ``frame_fn(n, spectrum)`` with the frame index ``n`` and a complex128
        array of shape (n_fft//2+1,) to modify in place.
    chunk : int
        Internal processing chunk in samples; bounds the preallocated frame
        buffer. Longer blocks are processed in several chunks.

    Attributes
    ----------
    latency_samples : int
        ``n_fft - 2``: analysis (``n_fft/2 - 1``: a frame is complete
        ``n_fft/2 - 1`` samples after its centre) plus synthesis
        (``n_fft/2 - 1``). It is the smallest fixed delay possible with a
        periodic Hann window, whose first coefficient is 0.
    """

    def __init__(self, n_fft, hop, frame_fn=None, chunk=4096):
        self.analysis = StreamingSTFT(n_fft, hop)
        self.synthesis = OverlapAdd(n_fft, hop)
        self.n_fft, self.hop = self.analysis.n_fft, self.analysis.hop
        self.frame_fn = frame_fn
        self.latency_samples = self.n_fft - 2
        self._chunk = int(chunk)
        max_frames = self._chunk // self.hop + 2
        self._frames = np.zeros((max_frames, self.analysis.n_bins), dtype=np.complex128)
        # output stream of the overlap-add, before alignment: it starts at the
        # first frame's first finished sample, which is this many samples
        # behind the aligned output
        self._lead = self.n_fft // 2 - 1 + first_frame(self.n_fft, self.hop) * self.hop
        self._fifo = np.zeros(self._lead + self._chunk + 2 * self.hop + self.n_fft, dtype=np.float64)
        self.reset()

    def reset(self):
        """Return to the state of a fresh stream (silence before sample 0)."""
        self.analysis.reset()
        self.synthesis.reset()
        self._fifo[:] = 0.0
        self._read = 0
        self._fill = self._lead  # the leading zeros are already in the FIFO

    def process(self, block, out=None):
        """Process a block of samples.

        Parameters
        ----------
        block : ndarray, shape (n,), float
        out : ndarray, shape (n,), float64, optional

        Returns
        -------
        ndarray, shape (n,), float64
            ``out`` when given.
        """
        block = np.asarray(block)
        if block.ndim != 1:
            raise InputError(f"block.shape={block.shape}: expected a 1-D block of samples")
        n = block.shape[0]
        if out is None:
            out = np.empty(n, dtype=np.float64)
        elif out.shape != (n,):
            raise InputError(f"out.shape={out.shape}: expected ({n},)")
        for start in range(0, n, self._chunk):
            stop = min(n, start + self._chunk)
            self._process_chunk(block[start:stop], out[start:stop])
        return out

    def rebuild(self, frames, ramp):
        """Replace the last frames overlap-added by new versions (a parameter of
        ``frame_fn`` jumped): the samples made but not yet returned crossfade into
        the new ones over ``ramp`` samples (:meth:`OverlapAdd.rebuild`).

        Parameters
        ----------
        frames : ndarray, shape (k, n_fft), float64
            The new versions of the last ``k`` frames, inverse-transformed,
            oldest first: ``k >= n_fft/hop + 2`` (rounded up), or every frame
            since ``reset``.
        ramp : int
            Crossfade length in samples.
        """
        self.synthesis.rebuild(frames, self._fifo[self._read:self._fill], ramp)

    def _process_chunk(self, block, out):
        k = self.analysis.frames_ready(block.shape[0])
        frames = self._frames[:k]
        self.analysis.process(block, out=frames)
        first = self.analysis.next_frame - k
        hop = self.hop
        self._compact()
        for i in range(k):
            if self.frame_fn is not None:
                self.frame_fn(first + i, frames[i])
            self.synthesis.add_frame(frames[i], self._fifo[self._fill:self._fill + hop])
            self._fill += hop
        m = out.shape[0]
        out[:] = self._fifo[self._read:self._read + m]
        self._read += m

    def _compact(self):
        # move unread samples to the front so appends never run off the end
        if self._read:
            self._fill = move_to_front(self._fifo, self._read, self._fill)
            self._read = 0

