"""Whole-signal STFT and its inverse: the reference the streaming classes match.

Convention (numpy/librosa ``center=True``, zero padding): frame ``n`` holds
samples ``x[n*hop - n_fft//2 : n*hop + n_fft//2]`` (zeros outside the signal),
multiplied by a periodic Hann window and transformed with ``rfft`` with index 0
at the frame's first sample. Unlike librosa, the frames start at the first
(possibly negative) index whose window reaches sample 0, so that every sample
of the signal is covered by the full set of overlapping windows and the inverse
is exact from the very first sample. Frames with ``n >= 0`` equal
``librosa.stft(x, n_fft=n_fft, hop_length=hop, center=True, pad_mode='constant')``.
"""

import numpy as np

from ..errors import InputError
from .windows import hann, window_square_sum

__all__ = ["stft", "istft", "first_frame", "n_frames", "check_geometry"]


def check_geometry(n_fft, hop):
    """Validate an (n_fft, hop) pair; raise InputError naming the bad value."""
    if int(n_fft) != n_fft or n_fft < 4 or n_fft % 2:
        raise InputError(f"n_fft={n_fft!r}: expected an even integer >= 4")
    if int(hop) != hop or hop < 1 or hop > n_fft // 2:
        raise InputError(
            f"hop={hop!r}: expected an integer in [1, n_fft/2={n_fft // 2}] "
            "so that overlapping Hann windows cover every sample")


def first_frame(n_fft, hop):
    """Index of the first frame whose window reaches sample 0 (<= 0)."""
    # smallest n with n*hop + n_fft/2 > 0, i.e. n > -n_fft/(2*hop)
    return -((n_fft // 2) // hop) + (0 if (n_fft // 2) % hop else 1)


def n_frames(length, n_fft, hop):
    """Number of frames :func:`stft` returns for a signal of ``length`` samples.

    Frames run from :func:`first_frame` to the last frame whose window starts
    before the signal's last sample (its first, zero-weight, sample excluded).
    """
    n0 = first_frame(n_fft, hop)
    # last n with n*hop - n_fft/2 + 1 <= length - 1
    n_last = (length - 2 + n_fft // 2) // hop
    return max(0, n_last - n0 + 1)


def stft(x, n_fft, hop):
    """Short-time Fourier transform of a whole 1-D signal.

    Parameters
    ----------
    x : array_like, shape (n_samples,)
    n_fft : int
        Window and FFT length (even).
    hop : int
        Hop size in samples (1 .. n_fft/2).

    Returns
    -------
    ndarray, shape (n_frames, n_fft//2 + 1), complex128
        Row ``i`` is frame ``first_frame(n_fft, hop) + i`` (see module doc).
    """
    check_geometry(n_fft, hop)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"x.shape={x.shape}: expected a 1-D signal")
    n0 = first_frame(n_fft, hop)
    count = n_frames(x.shape[0], n_fft, hop)
    half = n_fft // 2
    pad_left = half - n0 * hop
    padded = np.zeros(pad_left + x.shape[0] + n_fft, dtype=np.float64)
    padded[pad_left:pad_left + x.shape[0]] = x
    idx = np.arange(count)[:, None] * hop + np.arange(n_fft)[None, :]
    return np.fft.rfft(padded[idx] * hann(n_fft), axis=1)


def istft(frames, n_fft, hop, length):
    """Inverse of :func:`stft` by windowed overlap-add.

    Parameters
    ----------
    frames : array_like, shape (n_frames, n_fft//2 + 1), complex
        Frames in the :func:`stft` convention, the first being frame
        ``first_frame(n_fft, hop)``.
    n_fft, hop : int
    length : int
        Number of output samples.

    Returns
    -------
    ndarray, shape (length,), float64
        ``sum_n w * irfft(X_n)`` placed at ``n*hop - n_fft/2``, divided by the
        steady-state sum of squared windows.
    """
    check_geometry(n_fft, hop)
    frames = np.asarray(frames)
    if frames.ndim != 2 or frames.shape[1] != n_fft // 2 + 1:
        raise InputError(f"frames.shape={frames.shape}: expected (n_frames, {n_fft // 2 + 1})")
    n0 = first_frame(n_fft, hop)
    pad_left = n_fft // 2 - n0 * hop
    total = pad_left + max(length, frames.shape[0] * hop) + n_fft
    acc = np.zeros(total, dtype=np.float64)
    y = np.fft.irfft(frames, n=n_fft, axis=1) * hann(n_fft)
    for i in range(frames.shape[0]):
        acc[i * hop:i * hop + n_fft] += y[i]
    out = acc[pad_left:pad_left + length]
    norm = window_square_sum(hann(n_fft), hop)
    # sample t sits at window index (t + pad_left) mod hop of its frames' grid
    phase = (np.arange(length) + pad_left) % hop
    return out / norm[phase]
