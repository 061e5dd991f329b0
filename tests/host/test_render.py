"""Offline rendering: identical to the engine driven block by block; bad input; atomic output."""

import os

import mido
import numpy as np
import pytest
import soundfile as sf

from clirun import one_line_error, run_cli
from rtsynth.engine.canne import CanneSynth
from rtsynth.host.performance import demo_performance, read_midi
from rtsynth.host.render import render_midi
from rtsynth.model import load_bundle
from synth_bundles import make_synth_bundle

RATE = 22050


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return make_synth_bundle(tmp_path_factory.mktemp("bundle"))  # 22.05 kHz, n_fft 1024


@pytest.fixture(scope="module")
def bundle(bundle_dir):
    return load_bundle(bundle_dir)


def write_midi(path, tempo_change=True):
    """Two notes, a CC 21 move, a bend and sustain; a tempo change between them."""
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))  # 120 bpm
    tr.append(mido.Message("note_on", note=60, velocity=100, time=0))
    tr.append(mido.Message("control_change", control=21, value=30, time=240))  # 0.25 s
    tr.append(mido.Message("note_off", note=60, velocity=0, time=240))  # 0.5 s
    if tempo_change:
        tr.append(mido.MetaMessage("set_tempo", tempo=1000000, time=0))  # 60 bpm
    tr.append(mido.Message("control_change", control=64, value=127, time=0))
    tr.append(mido.Message("note_on", note=67, velocity=90, time=480))  # +1 s at 60 bpm
    tr.append(mido.Message("pitchwheel", pitch=4096, time=240))
    tr.append(mido.Message("note_off", note=67, velocity=0, time=240))
    tr.append(mido.Message("control_change", control=64, value=0, time=240))
    mid.save(path)
    return path


def reference(bundle, events, block, n):
    """The engine driven by hand: blocks of ``block``, split at each event's sample."""
    eng = CanneSynth(bundle)
    out = np.zeros(n, dtype=np.float32)
    i = 0
    for start in range(0, n, block):
        stop = min(n, start + block)
        pos = start
        while True:
            while i < len(events) and events[i][0] <= pos:
                eng.apply(events[i][1])
                i += 1
            nxt = events[i][0] if i < len(events) and events[i][0] < stop else stop
            eng.process(out[pos:nxt])
            pos = nxt
            if pos >= stop:
                break
    return out


def test_midi_times_honour_tempo_changes(tmp_path):
    events = read_midi(write_midi(tmp_path / "a.mid"), RATE)
    times = {c[0] + (str(c[1]) if c[0] == "note_on" else ""): t for t, c in events}
    assert times["note_on60"] == 0
    assert times["note_on67"] == round(1.5 * RATE)  # 0.5 s at 120 bpm + 1 s at 60 bpm
    kinds = [c[0] for _, c in events]
    assert kinds.count("latent") == 1 and "pitch_bend" in kinds and kinds.count("sustain") == 2
    latent = next(c for _, c in events if c[0] == "latent")
    assert latent[1] == 0 and latent[2] == pytest.approx(30 / 127)


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_render_equals_engine_block_by_block(tmp_path, bundle, block):
    midi = write_midi(tmp_path / "a.mid")
    r = render_midi(bundle, midi, tmp_path / "o.wav", block=block, keep_audio=True,
                    progress=False)
    events = read_midi(midi, RATE)
    ref = reference(bundle, events, block, r.n_samples)
    assert r.audio.shape == (r.n_samples,) and r.n_samples % block == 0
    np.testing.assert_array_equal(r.audio, ref)
    y, rate = sf.read(str(tmp_path / "o.wav"), dtype="float32")
    assert rate == RATE
    np.testing.assert_array_equal(y, ref)
    # a release tail follows the last event and ends in silence
    assert r.tail_samples > 0 and np.max(np.abs(ref[-block:])) < 1e-4
    assert np.max(np.abs(ref)) > 0.01 and r.nonfinite == 0


def test_block_size_does_not_change_the_render(bundle):
    events = [(int(t * RATE), c) for t, c in demo_performance() if t < 2.0]
    outs = [render_midi(bundle, events, None, block=b, keep_audio=True, progress=False).audio
            for b in (64, 1000)]
    n = min(map(len, outs))
    np.testing.assert_array_equal(outs[0][:n], outs[1][:n])


def test_pcm24_and_plot(tmp_path, bundle):
    events = [(0, ("note_on", 60, 100)), (RATE // 4, ("note_off", 60))]
    r = render_midi(bundle, events, tmp_path / "o.wav", subtype="PCM_24",
                    plot=tmp_path / "o.png", progress=False)
    assert sf.info(str(r.out_path)).subtype == "PCM_24"
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "o.wav"]


def test_interrupted_render_leaves_no_file(tmp_path, bundle, monkeypatch):
    (tmp_path / "keep.wav").write_bytes(b"old")
    calls = {"n": 0}

    from rtsynth.engine import schedule

    orig = schedule.render_with_events

    def interrupted(*a, **k):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt
        return orig(*a, **k)

    monkeypatch.setattr(schedule, "render_with_events", interrupted)
    events = [(0, ("note_on", 60, 100)), (RATE * 2, ("note_off", 60))]
    with pytest.raises(KeyboardInterrupt):
        render_midi(bundle, events, tmp_path / "keep.wav", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["keep.wav"]
    assert (tmp_path / "keep.wav").read_bytes() == b"old"


# ------------------------------------------------------------------ CLI, as a user runs it
def test_cli_render_writes_wav_and_plot(tmp_path, bundle_dir):
    midi = write_midi(tmp_path / "a.mid")
    r = run_cli("render", "canne", "--model", bundle_dir, "--midi", midi, "--out",
                tmp_path / "o.wav", "--plot", tmp_path / "o.png", "--latents", "0,1,0,0,0,0,0,0",
                "--block", 128, "--voices", 4)
    assert r.returncode == 0, r.stderr
    assert str(tmp_path / "o.wav") in r.stdout and "2 notes" in r.stdout
    assert sf.info(str(tmp_path / "o.wav")).samplerate == RATE
    assert (tmp_path / "o.png").exists()


def test_cli_midi_missing(tmp_path, bundle_dir):
    line = one_line_error(run_cli("render", "canne", "--model", bundle_dir, "--midi",
                                  tmp_path / "nope.mid", "--out", tmp_path / "o.wav"))
    assert "nope.mid" in line and "no such file" in line
    assert not (tmp_path / "o.wav").exists()


def test_cli_not_midi(tmp_path, bundle_dir):
    bogus = tmp_path / "song.mid"
    bogus.write_text("not a midi file\n")
    line = one_line_error(run_cli("render", "canne", "--model", bundle_dir, "--midi", bogus,
                                  "--out", tmp_path / "o.wav"))
    assert "song.mid" in line and "Standard MIDI File" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]


def test_cli_midi_without_notes(tmp_path, bundle_dir):
    mid = mido.MidiFile()
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.Message("control_change", control=21, value=10, time=0))
    mid.save(tmp_path / "empty.mid")
    line = one_line_error(run_cli("render", "canne", "--model", bundle_dir, "--midi",
                                  tmp_path / "empty.mid", "--out", tmp_path / "o.wav"))
    assert "empty.mid" in line and "no note-on" in line


def test_cli_model_breaking_contract(tmp_path):
    bad = tmp_path / "model"
    bad.mkdir()
    (bad / "manifest.json").write_text("{}")
    write_midi(tmp_path / "a.mid")
    line = one_line_error(run_cli("render", "canne", "--model", bad, "--midi", tmp_path / "a.mid",
                                  "--out", tmp_path / "o.wav"))
    assert "manifest.json" in line


def test_default_model_missing_is_one_sentence(tmp_path, monkeypatch):
    from rtsynth.errors import ModelError
    from rtsynth.host import play as play_module

    # look for models/canne only in an empty folder, wherever the repository's bundle is
    monkeypatch.setattr(play_module, "_PACKAGE_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"models/canne is missing: expected a trained canne "
                                         r"bundle folder at .*, found none"):
        play_module.resolve_bundle("canne")

# ------------------------------------------------------------------ --precision
SHIPPED = os.path.join(os.path.dirname(__file__), "..", "..", "models")


@pytest.mark.parametrize("instrument,model", [("canne", "canne"), ("anne", "anne-48k")])
def test_precision_int8_runs_the_int8_variant(tmp_path, instrument, model, rng):
    """The shipped bundle at int8 renders the same music as at fp32, within the
    quantisation's small spectral error, and is not the fp32 render (its files ran)."""
    from rtsynth import cli
    from rtsynth.dsp.metrics import spectral_convergence

    folder = os.path.join(SHIPPED, model)
    if instrument == "canne":
        source = ["--midi", str(write_midi(tmp_path / "a.mid", tempo_change=False))]
    else:
        t = np.arange(48000) / 48000
        sf.write(tmp_path / "in.wav", 0.3 * np.sin(2 * np.pi * 220 * t)
                 + 0.02 * rng.standard_normal(t.size), 48000)
        source = ["--in", str(tmp_path / "in.wav")]
    outs = {}
    for precision in ("fp32", "int8"):
        out = tmp_path / f"{precision}.wav"
        assert cli.main(["render", instrument, "--model", folder, *source, "--out", str(out),
                         "--precision", precision]) == 0
        outs[precision], _ = sf.read(out, dtype="float64")
    a, b = outs["fp32"], outs["int8"]
    assert a.shape == b.shape and np.all(np.isfinite(b)) and np.abs(b).max() <= 1.0
    assert np.abs(a - b).max() > 1e-6  # the int8 graphs ran, not the fp32 ones
    sc = spectral_convergence(_stft_mag(a), _stft_mag(b), db=True)
    assert sc < -25.0, sc  # within about 5 % of the fp32 spectrum (measured -40 and -49 dB)


def test_precision_without_the_variant_is_one_sentence(tmp_path, bundle_dir):
    line = one_line_error(run_cli("render", "canne", "--model", bundle_dir, "--midi",
                                  write_midi(tmp_path / "a.mid"), "--out", tmp_path / "o.wav",
                                  "--precision", "int8"))
    assert "manifest.json: expected variants to list 'int8', found variants=[]" in line
    assert not (tmp_path / "o.wav").exists()


def _stft_mag(x, n_fft=2048, hop=512):
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    return np.abs(np.fft.rfft(frames, axis=1))
