"""render anne: the streaming engine, time-aligned, same shape; bad input; atomic output."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from clirun import one_line_error, run_cli
from model_bundles import make_bundle
from rtsynth.engine import AnneEffect
from rtsynth.errors import InputError
from rtsynth.host.effect_render import render_effect
from rtsynth.model import load_bundle
from synth_bundles import make_identity_bundle


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    return {"tiny": make_bundle(root / "tiny"),  # 16 kHz, n_fft 64, random MLPs
            "id16k": make_identity_bundle(root / "id16"),
            "id22k": make_identity_bundle(root / "id22", n_fft=256, hop=64, sample_rate=22050),
            "synth": make_bundle(root / "synth", encoder=False)}


def write(path, x, rate, subtype="FLOAT"):
    sf.write(str(path), x, rate, subtype=subtype)
    return path


def streamed(bundle_dir, x, rate, block, **opts):
    """The engine driven block by block by hand, then shifted by its latency."""
    fx = AnneEffect(load_bundle(bundle_dir), sample_rate=rate, **opts)
    lag = fx.latency_samples
    padded = np.concatenate([x, np.zeros(lag + block)])
    y = np.zeros_like(padded)
    for i in range(0, padded.size, block):
        fx.process(padded[i:i + block], out=y[i:i + block])
    return y[lag:lag + x.size]


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_render_equals_the_streaming_engine(tmp_path, dirs, rng, block):
    x = rng.uniform(-0.5, 0.5, 12345)
    src = write(tmp_path / "in.wav", x, 48000)
    r = render_effect(dirs["tiny"], src, tmp_path / "out.wav", block=block, keep_audio=True,
                      progress=False, knobs=(2, 1, 0.5, 1, 4))
    ref = streamed(dirs["tiny"], x.astype(np.float32).astype(np.float64), 48000, block,
                   knobs=(2, 1, 0.5, 1, 4))
    np.testing.assert_array_equal(r.audio[:, 0], ref)
    y, rate = sf.read(str(tmp_path / "out.wav"), dtype="float64")
    assert rate == 48000 and y.shape == (x.size,)
    np.testing.assert_array_equal(y, ref.astype(np.float32))


@pytest.mark.parametrize("name,rate", [("id16k", 16000), ("id16k", 48000), ("id22k", 22050),
                                       ("id22k", 48000)])
@pytest.mark.parametrize("wet", [0.0, 1.0])
def test_impulses_stay_where_they_were(tmp_path, dirs, name, rate, wet):
    """Latency compensation: with and without resampling, dry and wet."""
    x = np.zeros(rate)
    x[1000::7000] = 0.5
    r = render_effect(dirs[name], write(tmp_path / "in.wav", x, rate), None, wet=wet,
                      keep_audio=True, progress=False)
    y = np.abs(r.audio[:, 0])
    assert r.latency_samples > 0 and y.size == x.size
    for i in np.flatnonzero(x):
        assert abs(int(np.argmax(y[i - 500:i + 500])) - 500) <= 1, (i, r.latency_samples)


def test_wet_zero_returns_the_input_unchanged(tmp_path, dirs, rng):
    x = np.clip(rng.normal(0, 0.3, (30000, 2)), -1, 1)
    src = write(tmp_path / "in.wav", x, 44100, "PCM_16")
    render_effect(dirs["tiny"], src, tmp_path / "out.wav", wet=0.0, progress=False)
    a, _ = sf.read(str(src), dtype="float32")
    b, rate = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert rate == 44100
    np.testing.assert_array_equal(a, b)


def test_channels_are_processed_separately(tmp_path, dirs, rng):
    left, right = rng.uniform(-0.5, 0.5, 8000), np.zeros(8000)
    src = write(tmp_path / "in.wav", np.stack([left, right], axis=1), 16000)
    r = render_effect(dirs["tiny"], src, tmp_path / "out.wav", keep_audio=True, progress=False)
    assert r.channels == 2 and r.audio.shape == (8000, 2)
    np.testing.assert_array_equal(r.audio[:, 0], streamed(dirs["tiny"], left.astype(np.float32)
                                                          .astype(np.float64), 16000, 256))
    assert not np.any(r.audio[:, 1])  # silence stays silence, no crosstalk
    assert sf.info(str(tmp_path / "out.wav")).channels == 2


def test_nonfinite_samples_are_counted_and_the_output_is_finite(tmp_path, dirs, rng):
    x = rng.uniform(-0.5, 0.5, 10000)
    x[[10, 20, 3000]] = (np.nan, np.inf, -np.inf)
    r = render_effect(dirs["tiny"], write(tmp_path / "in.wav", x, 48000), tmp_path / "o.wav",
                      keep_audio=True, progress=False)
    assert r.nonfinite_input == 3 and np.all(np.isfinite(r.audio))
    assert np.max(np.abs(r.audio)) <= 1.0


def test_plot_shows_the_input_and_the_aligned_output(tmp_path, dirs, rng, monkeypatch):
    from rtsynth.host import plot

    panels, draw = [], plot.write_spectrograms
    monkeypatch.setattr(plot, "write_spectrograms",
                        lambda p, rate, path: panels.extend(p) or draw(p, rate, path))
    x = rng.uniform(-0.5, 0.5, (8000, 2))
    src = write(tmp_path / "in.wav", x, 48000)  # resampled: the latency spans several blocks
    r = render_effect(dirs["id16k"], src, tmp_path / "o.wav", plot=tmp_path / "o.png",
                      wet=0.0, keep_audio=True, progress=False)
    assert r.latency_samples > 256
    assert r.plot_path.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "o.png", "o.wav"]
    (before, t0), (after, t1) = panels
    mono = x.astype(np.float32).astype(np.float64).mean(axis=1)
    np.testing.assert_array_equal(before, mono)  # the whole input, from its first sample
    np.testing.assert_array_equal(after, mono)  # wet 0: the output, time-aligned, is the input
    assert "in.wav" in t0 and "ANNe" in t1


def test_progress_bar_on_long_inputs(tmp_path, dirs, capsys):
    src = write(tmp_path / "long.wav", np.zeros(21 * 16000), 16000)  # silence: quick
    render_effect(dirs["tiny"], src, None, progress=True, block=4096)
    assert "s audio" in capsys.readouterr().err
    render_effect(dirs["tiny"], write(tmp_path / "short.wav", np.zeros(16000), 16000), None,
                  progress=True)
    assert capsys.readouterr().err == ""


def test_interrupted_render_leaves_no_file(tmp_path, dirs, rng, monkeypatch):
    src = write(tmp_path / "in.wav", rng.uniform(-0.5, 0.5, 20000), 16000)
    (tmp_path / "keep.wav").write_bytes(b"old")
    calls = {"n": 0}
    orig = AnneEffect.process

    def interrupted(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt
        return orig(self, *a, **k)

    monkeypatch.setattr(AnneEffect, "process", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render_effect(dirs["tiny"], src, tmp_path / "keep.wav", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "keep.wav"]
    assert (tmp_path / "keep.wav").read_bytes() == b"old"


@pytest.mark.parametrize("opts,match", [
    ({"knobs": (1, 1, 1, 1, 6)}, r"knob e=6: expected a gain in \[0.5, 5.5\]"),
    ({"knobs": (0.4, 1, 1, 1, 1)}, r"knob a=0.4: expected a gain in \[0.5, 5.5\]"),
    ({"sizes": (1, 1, 1, 1, 1)}, r"sizes=\[1, 1, 1, 1, 1\]: expected 5 sub-vector sizes >= 1 "
                                 r"summing to latent_dim=8 \(.*manifest.json\), found 5 sizes "
                                 r"summing to 5"),
    ({"preset": "log-up", "sizes": (2, 2, 2, 1, 1)},
     r"sizes=\[2, 2, 2, 1, 1\]: expected only with preset='custom', found preset='log-up'"),
    ({"preset": "custom"}, r"sizes=\[\]: expected 5 sub-vector sizes"),
    ({"wet": -0.1}, r"wet=-0.1: expected a dry/wet amount in \[0, 1\]"),
])
def test_bad_settings_are_one_sentence(tmp_path, dirs, rng, opts, match):
    src = write(tmp_path / "in.wav", rng.uniform(-0.5, 0.5, 1000), 16000)
    with pytest.raises(InputError, match=match):
        render_effect(dirs["tiny"], src, tmp_path / "o.wav", progress=False, **opts)
    assert not (tmp_path / "o.wav").exists()


# ------------------------------------------------------------------ CLI, as a user runs it
def test_cli_render_anne_writes_the_same_shape(tmp_path, dirs, rng):
    x = rng.uniform(-0.5, 0.5, (22050, 2))
    src = write(tmp_path / "in.wav", x, 44100, "PCM_24")
    r = run_cli("render", "anne", "--model", dirs["tiny"], "--in", src, "--out", tmp_path / "o.wav",
                "--knobs", "1,2,3,4,5", "--preset", "log-up", "--wet", "0.7", "--block", 512,
                "--plot", tmp_path / "o.png")
    assert r.returncode == 0, r.stderr
    assert "2 channels" in r.stdout and "resampled to 16000 Hz" in r.stdout, r.stdout
    info = sf.info(str(tmp_path / "o.wav"))
    assert (info.frames, info.samplerate, info.channels) == (22050, 44100, 2)
    assert (tmp_path / "o.png").exists() and r.stderr == ""


def test_cli_reports_nonfinite_input_once(tmp_path, dirs, rng):
    x = rng.uniform(-0.5, 0.5, 20000)
    x[::1000] = np.nan
    src = write(tmp_path / "nan.wav", x, 16000)
    r = run_cli("render", "anne", "--model", dirs["tiny"], "--in", src, "--out", tmp_path / "o.wav")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "20 non-finite samples (NaN/Inf)" in lines[0], r.stderr
    y, _ = sf.read(str(tmp_path / "o.wav"))
    assert np.all(np.isfinite(y)) and y.size == x.size


@pytest.mark.parametrize("case", ["missing", "not_audio", "knob", "sizes", "preset", "wet",
                                  "no_encoder", "canne_option", "no_in"])
def test_cli_bad_input_is_one_sentence(tmp_path, dirs, rng, case):
    src = write(tmp_path / "in.wav", rng.uniform(-0.5, 0.5, 4000), 16000)
    model = dirs["tiny"]
    extra, expect = [], []
    if case == "missing":
        src, expect = tmp_path / "nope.wav", ["nope.wav", "no such file"]
    elif case == "not_audio":
        src = tmp_path / "notes.wav"
        src.write_text("not audio\n")
        expect = ["notes.wav", "expected an audio file"]
    elif case == "knob":
        extra, expect = ["--knobs", "1,1,1,1,9"], ["knob e=9.0", "[0.5, 5.5]"]
    elif case == "sizes":
        extra, expect = ["--sizes", "4,4,4,4,4"], ["sizes=[4, 4, 4, 4, 4]", "latent_dim=8",
                                                  "manifest.json"]
    elif case == "preset":
        extra, expect = ["--preset", "custom"], ["sizes=[]"]
    elif case == "wet":
        extra, expect = ["--wet", "1.5"], ["wet=1.5", "[0, 1]"]
    elif case == "no_encoder":
        model, expect = dirs["synth"], ["expected a bundle with an encoder"]
    elif case == "canne_option":
        extra, expect = ["--voices", "4"], ["--voices", "only with `rtsynth render canne`"]
    args = ["render", "anne", "--model", model, "--out", tmp_path / "o.wav", *extra]
    if case != "no_in":
        args += ["--in", src]
    else:
        expect = ["--in IN.wav"]
    line = one_line_error(run_cli(*args))
    for e in expect:
        assert e in line, line
    assert not (tmp_path / "o.wav").exists()


SHIPPED = Path(__file__).resolve().parents[2] / "models" / "anne"


@pytest.mark.skipif(not (SHIPPED / "manifest.json").is_file(),
                    reason="models/anne is not shipped in this checkout (the tiny bundles above "
                           "cover the same code)")
@pytest.mark.parametrize("wet", [0.0, 1.0])
def test_shipped_bundle_keeps_impulses_in_place(tmp_path, wet):
    x = np.zeros(2 * 48000)
    x[4000::9000] = 0.5
    r = render_effect(SHIPPED, write(tmp_path / "in.wav", x, 48000), None, wet=wet,
                      keep_audio=True, progress=False)
    m = load_bundle(SHIPPED).manifest
    assert r.latency_samples >= (m.n_fft - 2) * 48000 / m.sample_rate
    y = np.abs(r.audio[:, 0])
    assert np.all(np.isfinite(y)) and y.max() <= 1.0
    for i in np.flatnonzero(x):
        assert abs(int(np.argmax(y[i - 500:i + 500])) - 500) <= 1, i
