"""Parameter smoothing kernels: ramps, one-pole steps."""

import numpy as np
import pytest

from rtsynth.engine.smoothing import RAMP_SAMPLES, one_pole_alpha, ramp_sample, smooth_step
from rtsynth.errors import InputError


def test_ramp_sample_is_a_straight_line_that_lands_on_the_target():
    v, left, path = 1.0, RAMP_SAMPLES, []
    while left:
        v, left = ramp_sample(v, 3.0, left)
        path.append(v)
    assert len(path) == RAMP_SAMPLES and path[-1] == 3.0
    assert np.diff(path) == pytest.approx(np.full(RAMP_SAMPLES - 1, 2.0 / RAMP_SAMPLES))
    assert ramp_sample(3.0, 3.0, 0) == (3.0, 0)


def test_one_pole_alpha():
    assert one_pole_alpha(0.01, 0.0) == 1.0
    assert one_pole_alpha(0.01, 0.01) == pytest.approx(1 - np.exp(-1))
    with pytest.raises(InputError, match=r"smoothing=-0.1: expected a time constant >= 0"):
        one_pole_alpha(0.01, -0.1)


def test_smooth_step_moves_in_place_and_snaps():
    z, target = np.zeros(3), np.array([1.0, -2.0, 0.5])
    assert smooth_step(z, target, 0.5)
    assert z == pytest.approx(target / 2)
    assert smooth_step(z, target, 1.0) and np.array_equal(z, target)
    assert not smooth_step(z, target, 0.5)
