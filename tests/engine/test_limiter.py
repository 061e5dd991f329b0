"""SafetyLimiter: NaN guard, ceiling, and the master volume's linear ramp."""

import numpy as np
import pytest

from rtsynth.engine.limiter import SafetyLimiter
from rtsynth.engine.smoothing import RAMP_SAMPLES

SR = 48000


def test_volume_one_is_bit_exact_and_result_is_out(rng):
    x = rng.uniform(-0.5, 0.5, 4096)
    out = np.empty_like(x)
    assert SafetyLimiter(SR).process(x, out=out) is out
    assert np.array_equal(out, x)


def test_output_is_finite_within_the_ceiling(rng):
    x = rng.standard_normal(4096) * 10
    x[::97] = np.nan
    x[::101] = np.inf
    lim = SafetyLimiter(SR, ceiling=0.98)
    y = lim.process(x)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 0.98 + 1e-12
    assert lim.nonfinite_count == np.count_nonzero(~np.isfinite(x))


@pytest.mark.parametrize("block", [1, 64, 65, 256, 1000, 8193])
def test_volume_ramps_linearly_over_the_ramp_at_any_block_size(block):
    """A volume change is a straight line over RAMP_SAMPLES (no lag of its own, no click),
    then holds; re-targeting mid-ramp starts a new line from where the gain is."""
    lim = SafetyLimiter(SR)
    x = np.full(10000, 0.5)
    y = np.empty_like(x)
    lim.set_volume(0.2)
    for i in range(0, 5000, block):
        j = min(i + block, 5000)
        lim.process(x[i:j], out=y[i:j])
    lim.set_volume(0.6)
    for i in range(5000, x.size, block):
        j = min(i + block, x.size)
        lim.process(x[i:j], out=y[i:j])
    g = y / 0.5
    n = RAMP_SAMPLES
    expect = 1.0 + (0.2 - 1.0) * np.arange(1, n + 1) / n
    assert g[:n] == pytest.approx(expect, abs=1e-12)
    assert np.all(g[n:5000] == 0.2)
    assert g[5000:5000 + n] == pytest.approx(0.2 + 0.4 * np.arange(1, n + 1) / n, abs=1e-12)
    assert np.all(g[5000 + n:] == 0.6)


def test_reset_puts_the_volume_on_its_target():
    lim = SafetyLimiter(SR)
    lim.set_volume(0.25)
    lim.reset()
    y = lim.process(np.full(8, 0.5))
    assert np.all(y == 0.125)
