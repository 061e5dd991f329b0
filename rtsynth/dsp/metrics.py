"""Quality measures of reconstructed spectrograms."""

import numpy as np

from ..errors import InputError

__all__ = ["spectral_convergence"]


def spectral_convergence(target, estimate, db=True):
    """Spectral convergence ``||S - S_hat||_F / ||S||_F``.

    Parameters
    ----------
    target : array_like
        Reference magnitudes S (e.g. ``abs(stft(x))``).
    estimate : array_like, same shape
        Magnitudes S_hat of the reconstruction.
    db : bool
        Return ``20*log10(SC)`` instead of the ratio.

    Returns
    -------
    float
    """
    s = np.abs(np.asarray(target))
    e = np.abs(np.asarray(estimate))
    if s.shape != e.shape:
        raise InputError(f"estimate.shape={e.shape}: expected the target's shape {s.shape}")
    ref = np.linalg.norm(s)
    if ref == 0:
        raise InputError("target is all zeros: spectral convergence is undefined for silence")
    sc = np.linalg.norm(s - e) / ref
    return float(20.0 * np.log10(max(sc, 1e-300))) if db else float(sc)
