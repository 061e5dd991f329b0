"""The `rtsynth` command: help, pending commands, one-line errors, resynth round trip."""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtsynth import cli
from rtsynth.errors import InputError

SUBCOMMANDS = ["play", "render", "devices", "inspect", "demo", "resynth"]
PENDING = {}  # every subcommand is available (inspect arrived with issue 6)
SC_LINE = re.compile(r"SC = (-?\d+\.\d+) dB")


def run_cli(*args, cwd=None):
    """Run ``python -m rtsynth ARGS`` in a child process, as a user would."""
    return subprocess.run([sys.executable, "-m", "rtsynth", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300,
                          stdin=subprocess.DEVNULL)


def write_tone(path, rng, seconds=1.0, rate=22050, channels=1):
    """A short harmonic tone with a little noise, written as 16-bit WAV."""
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1320 * t)
    x = x + 0.01 * rng.standard_normal(t.shape)
    data = np.stack([x * (1 + 0.1 * c) for c in range(channels)], axis=1)
    sf.write(path, data, rate, subtype="PCM_16")
    return t.shape[0]


def test_help_lists_every_subcommand():
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\s+\S", r.stdout, re.M), f"{name} missing:\n{r.stdout}"


def test_console_script_runs():
    script = Path(sys.executable).parent / "rtsynth"
    if not script.exists():
        pytest.skip(f"no console script at {script} (package not pip-installed here)")
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "resynth" in r.stdout


def test_every_subcommand_is_available():
    # inspect (issue 6) was the last pending one; none is left to exit 2
    from rtsynth.cli import PENDING as pending
    assert pending == {}
    for name in ("play", "render", "devices", "inspect", "learn", "resynth", "demo"):
        r = run_cli(name, "--help")
        assert r.returncode == 0, (name, r.stderr)


def test_resynth_missing_input_is_one_line_error(tmp_path):
    missing = tmp_path / "no_such_input.wav"
    r = run_cli("resynth", "--in", missing, "--out", tmp_path / "o.wav")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("rtsynth: error: ") and "no_such_input.wav" in lines[0]
    assert not (tmp_path / "o.wav").exists()


def test_resynth_not_audio_is_one_line_error(tmp_path):
    bogus = tmp_path / "notes.wav"
    bogus.write_text("this is not audio\n")
    r = run_cli("resynth", "--in", bogus, "--out", tmp_path / "o.wav")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "notes.wav" in r.stderr


def test_resynth_unwritable_output_is_one_line_error(tmp_path, rng):
    src = tmp_path / "in.wav"
    write_tone(src, rng)
    r = run_cli("resynth", "--in", src, "--out", tmp_path / "missing_dir" / "o.wav")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "missing_dir" in r.stderr


def test_resynth_writes_same_length_and_reports_sc(tmp_path, rng):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    n = write_tone(src, rng, channels=2)
    r = run_cli("resynth", "--in", src, "--out", dst, "--n-fft", 1024, "--hop", 256)
    assert r.returncode == 0, r.stderr
    m = SC_LINE.search(r.stdout)
    assert m and math.isfinite(float(m.group(1))), r.stdout
    assert str(dst) in r.stdout
    info = sf.info(str(dst))
    assert (info.frames, info.samplerate, info.channels) == (n, 22050, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


@pytest.mark.parametrize("method", ["rtpghi", "rtpghi1", "thesis", "random"])
def test_resynth_every_method_in_process(tmp_path, rng, capsys, method):
    src, dst = tmp_path / "in.wav", tmp_path / f"{method}.wav"
    n = write_tone(src, rng, seconds=0.5)
    argv = ["resynth", "--in", str(src), "--out", str(dst),
            "--n-fft", "512", "--hop", "128", "--method", method]
    assert cli.main(argv) == 0
    assert SC_LINE.search(capsys.readouterr().out)
    y, rate = sf.read(str(dst))
    assert y.shape == (n,) and rate == 22050 and np.all(np.isfinite(y))


def test_demo_without_trained_bundle_falls_back_and_says_so(tmp_path, capsys, monkeypatch):
    from rtsynth.host import play

    monkeypatch.setattr(play, "_PACKAGE_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.strip()
    wav = tmp_path / "out" / "demo_resynth.wav"
    assert wav.exists() and str(wav) in out and "models/canne is missing" in out
    assert len(out.splitlines()) == 1
    assert sf.info(str(wav)).frames == 4 * 44100


def test_demo_renders_performance_without_device(tmp_path, capsys, monkeypatch):
    from synth_bundles import make_synth_bundle

    from rtsynth.host import play

    monkeypatch.setattr(play, "has_audio_output", lambda: False)
    model = make_synth_bundle(tmp_path / "model")
    assert cli.main(["demo", "--model", str(model), "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.strip()
    wav = tmp_path / "out" / "demo.wav"
    assert wav.exists() and str(wav) in out and len(out.splitlines()) == 1
    assert sf.info(str(wav)).duration > 7.5


def test_rtsynth_error_becomes_exit_1(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise InputError("x=1: expected 2, found 1\nsecond line")

    monkeypatch.setattr("rtsynth.host.play.run_demo", boom)
    assert cli.main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err == "rtsynth: error: x=1: expected 2, found 1 second line\n"


def test_keyboard_interrupt_exits_130_quietly(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("rtsynth.host.play.run_demo", interrupted)
    assert cli.main(["demo"]) == 130
    assert capsys.readouterr().err == ""


def test_resynth_methods_are_the_dsp_registry():
    from rtsynth.dsp import PHASE_METHODS
    from rtsynth.host.resynth import METHODS

    assert set(METHODS) == set(PHASE_METHODS)


@pytest.mark.parametrize("argv,expect", [
    (["render", "canne", "--out", "o.wav"], "midi: expected `rtsynth render canne --midi IN.mid`"),
    (["render", "anne", "--model", "m", "--out", "o.wav"],
     "in: expected `rtsynth render anne --in IN.wav`"),
    (["play", "anne", "--fx", "x"], "--fx: expected only with `rtsynth play canne`"),
    (["play", "canne", "--knobs", "1,1,1,1,1"],
     "--knobs: expected only with `rtsynth play anne` or `canne --fx FOLDER`"),
    (["render", "canne", "--midi", "a.mid", "--out", "o.wav", "--in", "x.wav"],
     "--in: expected only with `rtsynth render anne`"),
])
def test_options_of_the_other_instrument_are_one_sentence(tmp_path, capsys, monkeypatch, argv,
                                                          expect):
    from rtsynth.host import play

    (tmp_path / "m").mkdir()
    monkeypatch.setattr(play, "_PACKAGE_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("rtsynth: error: ") and expect in err and len(err.splitlines()) == 1


def test_anne_without_a_bundle_says_where_it_looked(tmp_path, capsys, monkeypatch):
    from rtsynth.host import play

    monkeypatch.setattr(play, "_PACKAGE_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["render", "anne", "--in", "x.wav", "--out", "o.wav"]) == 1
    err = capsys.readouterr().err
    assert "models/anne is missing: expected a trained anne bundle folder" in err
    assert "--model FOLDER" in err and len(err.splitlines()) == 1


def test_help_shows_both_instruments():
    for command in ("play", "render"):
        r = run_cli(command, "--help")
        assert r.returncode == 0 and "{canne,anne}" in r.stdout
        for option in ("--fx", "--knobs", "--preset", "--sizes", "--wet"):
            assert option in r.stdout, (command, option)
