"""AnneEffect at device rates other than the model's; bad input signals; in-place chaining."""

import numpy as np
import pytest

from model_bundles import make_bundle
from rtsynth.engine import AnneEffect, AudioInput, Chain
from rtsynth.model import load_bundle
from synth_bundles import make_identity_bundle

DEVICE = 48000


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("b")
    return {
        "id16k": load_bundle(make_identity_bundle(root / "id16", sample_rate=16000)),
        "id22k": load_bundle(make_identity_bundle(root / "id22", n_fft=256, hop=64,
                                                  sample_rate=22050)),
        "id48k": load_bundle(make_identity_bundle(root / "id48", n_fft=256, hop=64,
                                                  sample_rate=48000)),
        "tiny": load_bundle(make_bundle(root / "tiny")),  # 16 kHz, random MLPs
    }


def run(fx, x, block):
    y = np.zeros_like(x)
    for i in range(0, x.size, block):
        fx.process(x[i:i + block], out=y[i:i + block])
    return y


def impulses(n, spacing, first=500, amp=0.5):
    x = np.zeros(n)
    x[first::spacing] = amp
    return x


@pytest.mark.parametrize("name", ["id16k", "id22k", "id48k"])
@pytest.mark.parametrize("wet", [0.0, 1.0])
def test_impulse_comes_out_at_the_reported_delay(bundles, name, wet):
    fx = AnneEffect(bundles[name], sample_rate=DEVICE, wet=wet)
    lag = fx.latency_samples
    m = bundles[name].manifest
    if m.sample_rate == DEVICE:
        assert lag == m.n_fft - 2
    else:
        assert lag >= (m.n_fft - 2) * DEVICE / m.sample_rate
    spacing = lag + 2000
    x = impulses(8 * spacing, spacing)
    y = run(fx, x, 256)
    for start in range(500 + spacing, x.size - spacing, spacing):  # the first has no history
        seg = np.abs(y[start:start + spacing])
        assert abs(int(np.argmax(seg)) - lag) <= 1, (start, int(np.argmax(seg)), lag)
    if wet == 0.0:  # the dry path is a plain delay, even across the resampling
        np.testing.assert_array_equal(y[lag:], x[:-lag])


def test_wet_path_rebuilds_a_band_limited_input_at_48k(bundles, rng):
    fx = AnneEffect(bundles["id16k"], sample_rate=DEVICE)
    t = np.arange(DEVICE) / DEVICE
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 2500 * t + 1)
    y = run(fx, x, 300)
    lag = fx.latency_samples
    err = y[lag + 2000:] - x[2000:-lag]
    assert np.max(np.abs(err)) < 2e-3  # identity model: resampler ripple only


def test_full_scale_square_wave_stays_inside_full_scale(bundles):
    fx = AnneEffect(bundles["tiny"], sample_rate=DEVICE, knobs=(5.5,) * 5)
    x = np.sign(np.sin(2 * np.pi * 100 * np.arange(DEVICE) / DEVICE))
    y = run(fx, x, 256)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
    assert np.max(np.abs(y)) > 0.1


@pytest.mark.parametrize("signal", ["silence", "dc"])
def test_silence_and_dc(bundles, signal):
    fx = AnneEffect(bundles["tiny"], sample_rate=DEVICE)
    x = np.zeros(20000) if signal == "silence" else np.full(20000, 0.5)
    y = run(fx, x, 256)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
    if signal == "silence":
        assert not np.any(y)  # silence stays silence: no model noise floor


def test_nan_and_inf_input_count_as_silence(bundles, rng):
    fx = AnneEffect(bundles["id16k"], sample_rate=DEVICE, wet=0.5)
    x = rng.uniform(-0.5, 0.5, 20000)
    x[[100, 5000, 5001]] = (np.nan, np.inf, -np.inf)
    y = run(fx, x, 256)
    assert np.all(np.isfinite(y)) and fx.nonfinite_input == 3
    clean = x.copy()
    clean[[100, 5000, 5001]] = 0.0
    np.testing.assert_array_equal(y, run(AnneEffect(bundles["id16k"], sample_rate=DEVICE,
                                                     wet=0.5), clean, 256))


def test_in_place_processing_equals_separate_buffers(bundles, rng):
    x = rng.uniform(-0.5, 0.5, 10000)
    ref = run(AnneEffect(bundles["tiny"], sample_rate=DEVICE, knobs=(2, 1, 1, 3, 1)), x, 256)
    fx = AnneEffect(bundles["tiny"], sample_rate=DEVICE, knobs=(2, 1, 1, 3, 1))
    y = x.astype(np.float32)
    for i in range(0, y.size, 256):
        fx.process(y[i:i + 256], out=y[i:i + 256])
    np.testing.assert_allclose(y, ref.astype(np.float32), atol=1e-6)


def test_chain_on_audio_input_is_the_effect(bundles, rng):
    """The duplex hosts' path (feed a period, render it split at event offsets)."""
    x = rng.uniform(-0.5, 0.5, 4096)
    ref = run(AnneEffect(bundles["tiny"], sample_rate=DEVICE), x, 256)
    chain = Chain(AudioInput(DEVICE, 256), AnneEffect(bundles["tiny"], sample_rate=DEVICE))
    assert chain.needs_input and chain.latency_samples == chain.effect.latency_samples
    y = np.zeros(x.size)
    for i in range(0, x.size, 256):
        chain.feed(x[i:i + 256])
        for a, b in ((0, 100), (100, 101), (101, 256)):  # split as events split a period
            chain.process(y[i + a:i + b])
    np.testing.assert_array_equal(y, ref)
    assert chain.apply(("knob", 0, 1.0)) and chain.effect.knobs[0] == 5.5
    assert not chain.apply(("note_on", 60, 100))  # no synth: ignored
