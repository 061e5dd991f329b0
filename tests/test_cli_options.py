"""`--map`, `--preset`, `--osc` and `rtsynth learn` on the command line."""

import re

import mido
import numpy as np
import pytest
import soundfile as sf

from clirun import one_line_error, run_cli
from synth_bundles import make_synth_bundle


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_synth_bundle(tmp_path_factory.mktemp("synth"), sample_rate=22050)


@pytest.fixture(scope="module")
def midi(tmp_path_factory):
    path = tmp_path_factory.mktemp("midi") / "knob.mid"
    f = mido.MidiFile()
    t = mido.MidiTrack()
    f.tracks.append(t)
    t.append(mido.Message("note_on", note=60, velocity=100, time=0))
    t.append(mido.Message("control_change", control=5, value=127, time=240))
    t.append(mido.Message("note_off", note=60, velocity=0, time=240))
    f.save(str(path))
    return path


def test_render_with_a_preset_and_a_map(tmp_path, model, midi):
    mapping = tmp_path / "m.toml"
    mapping.write_text('format_version = 2\n[[map]]\nparam = "volume"\ncc = 5\n'
                       'range = [0.0, 0.5]\nsmooth = 0.02\n')
    outs = {}
    for name, extra in (("plain", []), ("mapped", ["--map", mapping]),
                        ("preset", ["--preset", "timbre-3"])):
        r = run_cli("render", "canne", "--model", model, "--midi", midi, "--out",
                    tmp_path / f"{name}.wav", *extra)
        assert r.returncode == 0, r.stderr
        outs[name], _ = sf.read(str(tmp_path / f"{name}.wav"))
    n = min(map(len, outs.values()))
    half = n // 2
    # the mapped CC 5 halves the volume after its glide; the preset changes the timbre
    late = slice(int(0.75 * 22050), int(0.85 * 22050))
    ratio = np.sqrt(np.mean(outs["mapped"][late] ** 2) / np.mean(outs["plain"][late] ** 2))
    assert ratio == pytest.approx(0.5, abs=0.05)
    assert not np.allclose(outs["preset"][:half], outs["plain"][:half])


@pytest.mark.parametrize("args, match", [
    (["--map", "{tmp}/missing.toml"], r"missing\.toml: expected a mapping file \(TOML\), found no such file"),
    (["--map", "{tmp}/bad.toml"], r"bad\.toml:3: expected map\[0\]\.param to be a parameter"),
    (["--preset", "no-such"], r"preset='no-such': expected a preset name in .* \(timbre-0, "),
])
def test_control_errors_are_one_sentence(tmp_path, model, midi, args, match):
    (tmp_path / "bad.toml").write_text('[[map]]\ncc = 3\nparam = "lattent.0"\n')
    args = [a.format(tmp=tmp_path) for a in args]
    r = run_cli("render", "canne", "--model", model, "--midi", midi, "--out", tmp_path / "o.wav",
                *args)
    assert re.search(match, one_line_error(r))


def test_layout_presets_keep_their_meaning_and_map_needs_midi(tmp_path):
    r = run_cli("render", "anne", "--in", tmp_path / "x.wav", "--out", tmp_path / "o.wav",
                "--map", tmp_path / "m.toml")
    assert "--map: expected only with `rtsynth render canne`" in one_line_error(r)
    r = run_cli("play", "canne", "--preset", "log-up", "--backend", "portaudio")
    assert "--preset: expected only with `rtsynth play anne`" in one_line_error(r)


def test_learn_unknown_parameter_and_help(tmp_path):
    r = run_cli("learn", "colour", "--map", tmp_path / "m.toml", "--timeout", "0.1")
    assert re.search(r"learn: expected a parameter name among latent\.\*.*found 'colour'",
                     one_line_error(r))
    r = run_cli("play", "--help")
    assert "--osc PORT" in r.stdout and "--map FILE" in r.stdout and "--preset NAME|FILE" in r.stdout
