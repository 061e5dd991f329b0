"""Streaming inverse STFT: complex frames in, finished samples out."""

import numpy as np
from numba import njit

from ..errors import InputError
from .stft import check_geometry
from .windows import hann, window_square_sum

__all__ = ["OverlapAdd"]


class OverlapAdd:
    """Windowed overlap-add synthesis, one frame at a time.

    Each frame (``rfft`` convention of :func:`~rtsynth.dsp.stft`) is inverse
    transformed, multiplied by the Hann window and added into an accumulator;
    then the ``hop`` samples that no later frame can touch are divided by the
    steady-state window-square sum and returned. Feeding the frames of
    ``stft(x)`` (starting at its first frame) reproduces ``istft`` exactly,
    whatever the grouping of frames into calls.

    Parameters
    ----------
    n_fft : int
        Frame length (even).
    hop : int
        Hop in samples, 1 .. n_fft/2.

    Attributes
    ----------
    latency_samples : int
        ``n_fft//2 - 1``. The k-th frame fed (k = 0, 1, ...) returns output
        stream samples ``k*hop .. (k+1)*hop - 1``; when frame k is centred at
        signal time ``k*hop``, output sample ``s`` holds signal time
        ``s - latency_samples``.
    """

    def __init__(self, n_fft, hop):
        check_geometry(n_fft, hop)
        self.n_fft = int(n_fft)
        self.hop = int(hop)
        self.n_bins = self.n_fft // 2 + 1
        self.latency_samples = self.n_fft // 2 - 1
        self._window = hann(self.n_fft)
        norm = window_square_sum(self._window, self.hop)
        # emitted sample i of a frame sits at window index i+1 (index 0 has weight 0)
        self._inv_norm = 1.0 / np.roll(norm, -1)
        self._acc = np.zeros(self.n_fft, dtype=np.float64)
        self._time = np.zeros(self.n_fft, dtype=np.float64)

    def reset(self):
        """Clear the accumulator (drop every frame added so far)."""
        self._acc[:] = 0.0

    def process(self, frames, out=None):
        """Add frames and return the samples they finish.

        Parameters
        ----------
        frames : ndarray, shape (k, n_fft//2+1), complex
        out : ndarray, shape (k*hop,), float64, optional

        Returns
        -------
        ndarray, shape (k*hop,), float64
            ``out`` when given.
        """
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != self.n_bins:
            raise InputError(
                f"frames.shape={frames.shape}: expected (k, {self.n_bins}) for n_fft={self.n_fft}")
        k = frames.shape[0]
        if out is None:
            out = np.empty(k * self.hop, dtype=np.float64)
        elif out.shape != (k * self.hop,):
            raise InputError(f"out.shape={out.shape}: expected ({k * self.hop},) for {k} frames")
        hop = self.hop
        for i in range(k):
            self.add_frame(frames[i], out[i * hop:(i + 1) * hop])
        return out

    def prime(self, frames, scratch=None):
        """Add frames without returning their samples (the samples before a note).

        Leaves the accumulator exactly as ``process(frames)`` would, with one
        batched inverse FFT instead of one per frame: what a voice needs at a
        note-on, where the prefill frames' own output precedes the note.

        Parameters
        ----------
        frames : ndarray, shape (k, n_fft//2+1), complex
        scratch : ndarray, shape (k, n_fft), float64, optional
            Preallocated workspace for the inverse FFTs.
        """
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != self.n_bins:
            raise InputError(
                f"frames.shape={frames.shape}: expected (k, {self.n_bins}) for n_fft={self.n_fft}")
        if scratch is None:
            scratch = np.empty((frames.shape[0], self.n_fft))
        np.fft.irfft(frames, n=self.n_fft, axis=1, out=scratch)
        _prime(self._acc, scratch, self._window, self.hop)

    def add_frame(self, frame, out):
        """Add one frame; write its ``hop`` finished samples into ``out``; return ``out``."""
        np.fft.irfft(frame, n=self.n_fft, out=self._time)
        _accumulate_emit_shift(self._acc, self._time, self._window, self._inv_norm, out)
        return out

    def add_time_frame(self, frame, out):
        """:meth:`add_frame` for a frame already inverse-transformed (``n_fft`` real samples).

        Lets a caller with many streams run one batched inverse FFT (about
        half the cost per frame of single calls) and then overlap-add each.
        """
        _accumulate_emit_shift(self._acc, frame, self._window, self._inv_norm, out)
        return out

    def rebuild(self, frames, recent, ramp):
        """Redo the overlap-add with new versions of the last frames, crossfading into them.

        When a spectral parameter jumps, the frames already added keep the old
        spectrum for up to ``n_fft`` samples, so the change would fade in over
        the whole window (93 ms for CANNe). Instead the accumulator, and the
        samples returned but not yet played, become what they would be had
        ``frames`` been added in place of the last ``k`` frames; the not yet
        played samples move from their old to their new values over ``ramp``
        samples (a click-free crossfade), so the change is heard at once.

        Parameters
        ----------
        frames : ndarray, shape (k, n_fft), float64
            The new versions of the last ``k`` frames added, inverse-transformed,
            oldest first (the last is the latest): ``k >= n_fft/hop + 2``
            (rounded up), or every frame since ``reset``.
        recent : ndarray, shape (L,), float64
            The last ``L`` samples this overlap-add returned, oldest first,
            still to be played; crossfaded in place. Only the last
            ``(k + 1) * hop - n_fft + 1`` of them can be redone (``k`` counted
            as at least ``n_fft/hop + 2``); older ones are left as they are.
        ramp : int
            Crossfade length in samples, counted from the first sample redone
            (``recent[0]``, the next sample played, unless ``recent`` reaches
            back further).

        Returns
        -------
        ndarray
            ``recent``.
        """
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != self.n_fft:
            raise InputError(
                f"frames.shape={frames.shape}: expected (k, {self.n_fft}) time-domain frames")
        k = max(frames.shape[0], -(-self.n_fft // self.hop) + 2)
        reach = (k + 1) * self.hop - self.n_fft + 1  # samples before the end redone exactly
        start = max(0, recent.shape[0] - reach)
        _rebuild(self._acc, frames, self._window, self._inv_norm, recent[start:], int(ramp))
        return recent


@njit(cache=True, nogil=True)
def _prime(acc, frames, window, hop):
    # after adding frame j of k and shifting once per frame, frame j's sample i
    # sits at acc[i - (k - j) * hop]
    n = acc.shape[0]
    k = frames.shape[0]
    shift = k * hop  # what was there already moves left by hop per frame
    for i in range(n):
        acc[i] = acc[i + shift] if i + shift < n else 0.0
    for j in range(k):
        off = (k - j) * hop
        for i in range(off, n):
            acc[i - off] += frames[j, i] * window[i]


@njit(cache=True, nogil=True)
def _accumulate_emit_shift(acc, frame, window, inv_norm, out):
    n = acc.shape[0]
    hop = out.shape[0]
    for i in range(n):
        acc[i] += frame[i] * window[i]
    for i in range(hop):
        out[i] = acc[i + 1] * inv_norm[i]
    for i in range(n - hop):
        acc[i] = acc[i + hop]
    for i in range(n - hop, n):
        acc[i] = 0.0


@njit(cache=True, nogil=True)
def _rebuild(acc, frames, window, inv_norm, recent, ramp):
    # frame j (age a = k-1-j; a = 0 the latest) has its sample q at acc[q - (a+1)*hop]
    # (acc[0] is the last sample returned), and the sample returned d samples before
    # the end (d = 1 the last) is its sample q = (a+1)*hop + 1 - d, returned
    # divided by inv_norm's entry (hop - d) % hop
    n = acc.shape[0]
    k = frames.shape[0]
    hop = inv_norm.shape[0]
    m = recent.shape[0]
    for i in range(n):
        new = 0.0
        for j in range(k):
            q = i + (k - j) * hop
            if q < n:
                new += frames[j, q] * window[q]
        r = min(1.0, (m + i) / ramp) if ramp > 0 else 1.0
        acc[i] = acc[i] * (1.0 - r) + new * r
    for t in range(m):
        d = m - t
        new = 0.0
        for j in range(k):
            q = (k - j) * hop + 1 - d
            if 0 <= q < n:
                new += frames[j, q] * window[q]
        new *= inv_norm[(hop - d) % hop]
        r = min(1.0, (t + 1.0) / ramp) if ramp > 0 else 1.0
        recent[t] = recent[t] * (1.0 - r) + new * r
