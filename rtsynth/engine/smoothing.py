"""Parameter smoothing on the audio path: no zipper noise, and no lag of its own.

Per-sample gains (master volume, ANNe's dry/wet) move to each new target along
a linear ramp of :data:`RAMP_SAMPLES`, restarted by every new target; control
glides step on a grid of the same length (``control.automation``), so a glide
comes out as one continuous line, only a ramp behind. Per-frame values
(latents, knob gains) may add a one-pole (:func:`smooth_step`); by default the
frames' overlap-add is their crossfade, and a jump redoes the frames still
sounding and crossfades into them over the same ramp.
"""

import math

from numba import njit

from ..errors import InputError

__all__ = ["RAMP_SAMPLES", "one_pole_alpha", "ramp_sample", "smooth_step"]

#: samples of a per-sample gain's ramp to a new target (2.7 ms at 48 kHz: click-free,
#: and within the 3 ms a note's onset ramp is allowed)
RAMP_SAMPLES = 128


def one_pole_alpha(step, tau):
    """The :func:`smooth_step` fraction for steps of ``step`` seconds and time constant
    ``tau`` seconds; 1 (straight to the target) when ``tau`` is 0."""
    if tau < 0.0:
        raise InputError(f"smoothing={tau!r}: expected a time constant >= 0 seconds")
    return 1.0 if tau == 0.0 else 1.0 - math.exp(-step / tau)


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


@njit(cache=True, nogil=True)
def ramp_sample(v, target, left):
    """One sample of a linear ramp: returns ``(v, left)`` moved one step towards ``target``.

    ``left`` is the number of samples to go (set it to :data:`RAMP_SAMPLES` when the
    target changes); at 0 the value sits on the target.
    """
    if left <= 1:
        return target, 0
    return v + (target - v) / left, left - 1
