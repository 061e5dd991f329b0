"""One-pole parameter smoothing on the audio path (latents, knob gains): no zipper noise."""

from numba import njit

__all__ = ["smooth_step"]


@njit(cache=True, nogil=True)
def smooth_step(z, target, alpha):
    """One one-pole step of ``z`` towards ``target`` in place; True if ``z`` moved.

    ``z`` snaps onto ``target`` once every element is within 1e-5 of it, so a
    settled parameter stops costing anything (callers skip work on False).

    Parameters
    ----------
    z, target : ndarray, shape (n,), float64
    alpha : float
        Step fraction, ``1 - exp(-step / (tau * rate))``.
    """
    far = 0.0
    for i in range(z.shape[0]):
        far = max(far, abs(target[i] - z[i]))
    if far <= 1e-6:
        return False
    near = 0.0
    for i in range(z.shape[0]):
        z[i] += alpha * (target[i] - z[i])
        near = max(near, abs(target[i] - z[i]))
    if near < 1e-5:
        for i in range(z.shape[0]):
            z[i] = target[i]
    return True
