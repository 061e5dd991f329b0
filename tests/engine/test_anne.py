"""AnneEffect: latency, dry/wet, knobs, block-size invariance."""

import numpy as np
import pytest

from model_bundles import make_bundle
from rtsynth.engine import AnneEffect, knob_sizes
from rtsynth.errors import InputError
from rtsynth.model import load_bundle
from synth_bundles import make_identity_bundle


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    return load_bundle(make_identity_bundle(tmp_path_factory.mktemp("b") / "id"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_bundle(make_bundle(tmp_path_factory.mktemp("b") / "tiny"))


def run(fx, x, block):
    return np.concatenate([fx.process(x[i:i + block]) for i in range(0, x.size, block)])


def test_wet_zero_is_the_input_delayed_exactly(tiny, rng):
    fx = AnneEffect(tiny, wet=0.0)
    x = rng.uniform(-1, 1, 3000)
    y = run(fx, x, 100)
    d = fx.latency_samples
    assert d == 64 - 2
    np.testing.assert_array_equal(y[d:], x[:-d])
    assert np.all(y[:d] == 0)


def test_wet_path_has_the_same_latency(identity, rng):
    fx = AnneEffect(identity, wet=1.0)
    x = rng.uniform(-0.5, 0.5, 4000)
    y = run(fx, x, 77)
    d = fx.latency_samples
    assert np.max(np.abs(y[d:] - x[:-d])) < 1e-5  # identity model: float32 rounding only


def test_half_wet_keeps_the_level_when_wet_equals_dry(identity, rng):
    fx = AnneEffect(identity, wet=0.5)
    x = rng.uniform(-0.5, 0.5, 4000)
    y = run(fx, x, 256)
    d = fx.latency_samples
    assert np.max(np.abs(y[d:] - x[:-d])) < 1e-5


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_block_size_invariance(tiny, rng, block):
    x = rng.uniform(-0.5, 0.5, 5000)
    ref = run(AnneEffect(tiny, knobs=(2, 1, 3, 0.5, 1)), x, 1)
    np.testing.assert_allclose(run(AnneEffect(tiny, knobs=(2, 1, 3, 0.5, 1)), x, block), ref,
                               atol=1e-12)


def test_knobs_change_the_spectrum(tiny, rng):
    x = rng.uniform(-0.5, 0.5, 5000)
    a = run(AnneEffect(tiny), x, 256)
    b = run(AnneEffect(tiny, knobs=(5.5, 5.5, 0.5, 0.5, 0.5)), x, 256)
    assert np.linalg.norm(a - b) > 0.05 * np.linalg.norm(a)
    assert np.all(np.isfinite(b)) and np.max(np.abs(b)) <= 1.0


def test_bypass_returns_the_dry_path(tiny, rng):
    fx = AnneEffect(tiny, wet=1.0, smoothing=1e-4)
    fx.apply(("bypass", True))
    x = rng.uniform(-0.5, 0.5, 4000)
    y = run(fx, x, 256)
    d = fx.latency_samples
    np.testing.assert_allclose(y[d + 100:], x[100:-d], atol=1e-9)


@pytest.mark.parametrize("preset,expected", [
    ("equal", (13, 13, 13, 13, 12)), ("log-up", (3, 5, 9, 16, 31)), ("log-down", (31, 16, 9, 5, 3)),
])
def test_knob_sizes(preset, expected):
    sizes = knob_sizes(64, preset)
    assert sum(sizes) == 64 and min(sizes) >= 1
    assert sorted(sizes) == sorted(expected)
    if preset == "log-up":
        assert list(sizes) == sorted(sizes)


@pytest.mark.parametrize("kwargs,match", [
    ({"preset": "custom", "sizes": (10, 10, 10, 10, 10)},
     r"sizes=\[10, 10, 10, 10, 10\]: expected 5 sub-vector sizes >= 1 summing to latent_dim=8"),
    ({"knobs": (1, 1, 1, 1, 6)}, r"knob e=6: expected a gain in \[0.5, 5.5\]"),
    ({"wet": 1.5}, r"wet=1.5: expected a dry/wet amount in \[0, 1\]"),
    ({"preset": "wide"}, r"preset='wide': expected one of equal, log-up, log-down, custom"),
])
def test_bad_settings(tiny, kwargs, match):
    with pytest.raises(InputError, match=match):
        AnneEffect(tiny, **kwargs)


def test_needs_an_encoder(tmp_path):
    b = load_bundle(make_bundle(tmp_path / "synth", encoder=False))
    with pytest.raises(InputError, match=r"expected a bundle with an encoder for the ANNe effect"):
        AnneEffect(b)


def _knob_run(fx, x, block, moves):
    """Process ``x`` in blocks cut also at each (sample, knob, gain) move, as hosts do."""
    y = np.zeros_like(x)
    cuts = sorted({0, x.size, *(t for t, _, _ in moves), *range(0, x.size, block)})
    for a, b in zip(cuts[:-1], cuts[1:]):
        for t, knob, gain in moves:
            if t == a:
                fx.set_knob(knob, gain)
        fx.process(x[a:b], out=y[a:b])
    return y


@pytest.mark.parametrize("t0", [1200, 1237])
def test_a_knob_move_is_heard_at_once(tiny, rng, t0):
    """The frames still sounding are decoded again with the new gain: one ramp after the
    move the output is exactly what the effect makes with the knob there all along
    (quiet enough that the safety limiter, whose state would differ, never acts)."""
    x = rng.uniform(-0.1, 0.1, 4000)
    fx = AnneEffect(tiny)
    y = _knob_run(fx, x, 256, [(t0, 0, 5.5)])
    assert fx.redos == 1
    before = run(AnneEffect(tiny), x, 256)
    after = run(AnneEffect(tiny, knobs=(5.5, 1, 1, 1, 1)), x, 256)
    assert np.linalg.norm(after - before) > 0.05 * np.linalg.norm(before)
    assert np.abs(after).max() < 0.5 and np.abs(before).max() < 0.5
    np.testing.assert_array_equal(y[:t0], before[:t0])
    np.testing.assert_allclose(y[t0 + 128:], after[t0 + 128:], atol=1e-12)
    # in between, a crossfade: no step bigger than the signals' own
    steps = np.abs(np.diff(y[t0 - 128:t0 + 256])).max()
    assert steps <= 1.2 * max(np.abs(np.diff(before)).max(), np.abs(np.diff(after)).max())


@pytest.mark.parametrize("rate", [None, 48000])
def test_knob_moves_render_the_same_at_any_block_size(tiny, rng, rate):
    """Moves closer than a hop are redone at the next slot of the output clock (at most
    one redo per hop), at the model's rate and resampled alike."""
    x = rng.uniform(-0.5, 0.5, 60000)  # moves 0.5 s apart at 48 kHz: one redo's ration each
    moves = [(1000, 0, 5.5), (1003, 1, 3.0), (26000, 0, 0.5), (26001, 4, 5.0), (52000, 2, 2.0)]
    renders, redos = [], []
    for block in (1, 64, 65, 256, 1000, 8193):
        fx = AnneEffect(tiny, sample_rate=rate, max_block=8193)
        renders.append(_knob_run(fx, x, block, moves))
        redos.append(fx.redos)
    assert redos == [redos[0]] * len(redos) and 3 <= redos[0] <= 5
    for y in renders[1:]:
        np.testing.assert_allclose(y, renders[0], atol=1e-12)


def test_a_storm_of_knob_moves_redoes_only_as_it_starts(tiny, rng):
    x = rng.uniform(-0.5, 0.5, 20000)
    fx = AnneEffect(tiny)  # 16 kHz, hop 16: a move every 10 samples never rests
    _knob_run(fx, x, 256, [(t, t % 5, 0.5 + 5 * (t % 7) / 6) for t in range(2000, 9000, 10)])
    assert 1 <= fx.redos <= 4


def test_smoothed_knobs_glide_instead(tiny, rng):
    fx = AnneEffect(tiny, smoothing=0.05)
    _knob_run(fx, rng.uniform(-0.5, 0.5, 3000), 256, [(1000, 0, 5.5)])
    assert fx.redos == 0
