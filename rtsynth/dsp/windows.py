"""Analysis/synthesis windows and the constants that go with them."""

import numpy as np

__all__ = ["hann", "HANN_GAMMA", "gaussian_gamma", "window_square_sum"]

#: Time-frequency ratio of the Gaussian that best fits a Hann window of length L,
#: as a fraction of L**2 (Průša et al., PGHI): gamma = HANN_GAMMA * L**2.
HANN_GAMMA = 0.25645


def hann(n_fft):
    """Periodic Hann window (the numpy/librosa/scipy ``fftbins=True`` one).

    Parameters
    ----------
    n_fft : int
        Window length in samples.

    Returns
    -------
    ndarray, shape (n_fft,), float64
        ``0.5 - 0.5*cos(2*pi*k/n_fft)``; symmetric about ``n_fft // 2``, where
        it peaks at 1, and exactly 0 at ``k = 0``.
    """
    k = np.arange(n_fft, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * k / n_fft)


def gaussian_gamma(n_fft):
    """The PGHI constant gamma (samples**2) of a Hann window of length n_fft."""
    return HANN_GAMMA * float(n_fft) ** 2


def window_square_sum(window, hop):
    """Steady-state sum of squared, hop-shifted windows over one hop period.

    Parameters
    ----------
    window : ndarray, shape (n_fft,)
    hop : int

    Returns
    -------
    ndarray, shape (hop,), float64
        ``out[r] = sum_j window[r + j*hop]**2`` over all j with
        ``0 <= r + j*hop < n_fft``. Overlap-add of windowed frames divided by
        this periodic envelope reconstructs the signal exactly.
    """
    n_fft = window.shape[0]
    w2 = window.astype(np.float64) ** 2
    out = np.zeros(hop, dtype=np.float64)
    for start in range(0, n_fft, hop):
        seg = w2[start:start + hop]
        out[: seg.shape[0]] += seg
    return out
