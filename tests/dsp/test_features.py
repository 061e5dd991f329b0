import numpy as np
import pytest

from rtsynth.dsp import frame_features, n_features
from rtsynth.errors import InputError


def test_mag_plus_first_difference(rng):
    x = rng.uniform(0, 1, 9)
    f = frame_features(x, "mag+diff1")
    assert f.shape == (18,) == (n_features("mag+diff1", 9),)
    np.testing.assert_array_equal(f[:9], x)
    np.testing.assert_allclose(f[9:17], x[1:] - x[:-1])
    assert f[17] == 0


def test_second_difference_and_batches(rng):
    x = rng.uniform(0, 1, (4, 9))
    f = frame_features(x, "mag+diff1+diff2")
    d1 = x[:, 1:] - x[:, :-1]
    np.testing.assert_allclose(f[:, 18:25], d1[:, 1:] - d1[:, :-1])
    assert np.all(f[:, 25:] == 0)


def test_out_is_returned(rng):
    x = rng.uniform(0, 1, 9).astype(np.float32)
    out = np.empty(18, np.float32)
    assert frame_features(x, "mag+diff1", out=out) is out


def test_unknown_kind():
    with pytest.raises(InputError, match=r"input_features='mfcc': expected one of mag, mag\+diff1"):
        frame_features(np.zeros(4), "mfcc")
