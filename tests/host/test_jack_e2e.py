"""JACK end to end: `rtsynth play canne --backend jack` as a user runs it, played and recorded.

The test owns a JACK client with a MIDI output (connected to the synth's
``midi_in``) and an audio input (fed by the synth's ``out_1``). Its process
callback sends notes and a CC 21-28 sweep at known frames and records, so
every timing is in samples of the server's clock.
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import jackutil
from clirun import one_line_error, run_cli
from e2e_audio import centroid, cents, hz, knob_sweep, play_and_record, steady_f0, timed
from synth_bundles import make_synth_bundle

pytestmark = pytest.mark.jack

NAME = "rt-test"
SECONDS = 7.5


def _schedule(rate):
    """[(frame, bytes)] relative to the recording start."""
    ev = []

    def at(t, *msg):
        ev.append((int(t * rate), bytes(msg)))

    at(0.2, 0x90, 60, 100)
    at(1.2, 0x80, 60, 0)
    at(2.0, 0x90, 69, 100)
    at(3.0, 0x80, 69, 0)
    at(4.0, 0x90, 48, 100)
    ev += knob_sweep(5.0, 0.8, 40, rate)  # every knob 21-28 over 5.0..5.8 s -> timbre 7
    at(6.5, 0x80, 48, 0)
    ev.sort(key=lambda e: e[0])
    return ev


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_synth_bundle(tmp_path_factory.mktemp("bundle"), n_fft=4096, hop=1024,
                             sample_rate=44100)


def test_play_notes_and_knobs_over_jack(jack_server, bundle):
    """Three notes sound at their pitch within 150 ms of note-on, are silent after their
    release, and the knob sweep darkens the third.

    A session without xruns must pass every check. A cycle the server drops under load
    can take a note-on with it (the synth's callback did not run in the cycle that
    carried it; stop 20: "no sound right after note-on 48" in a loaded ``make test``,
    3 of 3 reruns clean), so a session with xruns that fails a check is tried again,
    three sessions in all.
    """
    problems = []
    for attempt in range(3):
        x, out = _play_session(jack_server, bundle)
        problems = _audio_problems(x, jack_server.rate)
        if not problems:
            return
        assert jackutil.check_xruns(out) > 0, (problems, out)
    pytest.fail(f"three sessions with xruns failed; the last: {problems}")


def test_unknown_jack_midi_port_lists_available(jack_server, bundle):
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name)
    r = run_cli("play", "canne", "--backend", "jack", "--model", str(bundle),
                "--jack-name", "rt-bad", "--midi-in", "no-such-keyboard", env=env, timeout=60)
    line = one_line_error(r)
    assert "no-such-keyboard" in line and "found only" in line


def test_jack_block_size_refused(jack_server, bundle):
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name)
    r = run_cli("play", "canne", "--backend", "jack", "--model", str(bundle),
                "--jack-name", "rt-bad2", "--block", "512", env=env, timeout=60)
    line = one_line_error(r)
    assert "512" in line and str(jack_server.blocksize) in line


def test_unknown_portaudio_device_lists_available(jack_server, bundle):
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name)
    r = run_cli("play", "canne", "--backend", "portaudio", "--model", str(bundle),
                "--device", "no-such-card", env=env, timeout=60)
    line = one_line_error(r)
    assert "no-such-card" in line and "available output devices" in line


def test_no_jack_server_is_one_sentence(bundle):
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"rtsynth-absent-{os.getpid()}")
    t = time.monotonic()
    r = run_cli("play", "canne", "--backend", "jack", "--model", str(bundle), env=env, timeout=60)
    line = one_line_error(r)
    assert "JACK server" in line and time.monotonic() - t < 30


def test_server_shutdown_exits_with_one_sentence(bundle):
    server = jackutil.start_server(rate=48000, blocksize=256)
    env = dict(os.environ, JACK_DEFAULT_SERVER=server.name)
    proc = subprocess.Popen([sys.executable, "-m", "rtsynth", "play", "canne", "--backend", "jack",
                             "--model", str(bundle), "--jack-name", "rt-gone"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline()  # printed once the client is active
        assert "latency:" in line, (line, proc.communicate())
        time.sleep(0.3)
        jackutil.stop_server(server)
        t = time.monotonic()
        out, err = proc.communicate(timeout=10)
        took = time.monotonic() - t
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        jackutil.stop_server(server)
    assert proc.returncode == 1 and "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("rtsynth:")]
    assert len(lines) == 1 and "shut down" in lines[0], err
    assert took < 2.5, took


def _play_session(jack_server, bundle):
    """One ``rtsynth play canne`` session over JACK playing :func:`_schedule`; the
    recording (float64) and the process's stdout. Asserts how the process ran and
    ended (exit 0, no traceback, the latency line, the exit line's sanity bound)."""
    rate = jack_server.rate
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "rtsynth", "play", "canne", "--backend", "jack",
                             "--model", str(bundle), "--jack-name", NAME],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    try:
        schedule = _schedule(rate)
        rec = np.zeros(int(SECONDS * rate) + 4096, dtype=np.float32)
        state = {"armed": False, "pos": 0, "i": 0}
        with jackutil.client("rt-e2e", jack_server) as c:
            midi_out = c.midi_outports.register("midi_out")
            audio_in = c.inports.register("in")

            c.set_process_callback(play_and_record(midi_out, audio_in, schedule, rec, state))

            c.activate()
            jackutil.wait_for_port(c, f"{NAME}:midi_in", proc)
            time.sleep(0.5)  # let it settle (warm-up happens before activation)
            c.connect(midi_out, f"{NAME}:midi_in")
            c.connect(f"{NAME}:out_1", audio_in)
            ports = {p.name for p in c.get_ports(f"{NAME}:")}
            assert {f"{NAME}:out_1", f"{NAME}:out_2", f"{NAME}:midi_in"} <= ports
            state["armed"] = True
            jackutil.wait_recorded(proc, lambda: state["pos"] >= rec.size,
                                   lambda: ("the recorder stopped", state["pos"]))
            c.deactivate()
        proc.send_signal(signal.SIGINT)
        out, err = jackutil.communicate_or_dump(proc, 15, jack_server)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert re.search(r"latency: \d+ samples \(\d+(\.\d+)? ms\)", out), out
    jackutil.check_xruns(out)  # the exit line's load and xruns (a sanity bound)
    x = rec.astype(np.float64)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 1.0
    return x, out


def _audio_problems(x, rate):
    """What in the recording ``x`` of :func:`_schedule` is wrong: [] when all is right."""
    seg, rms = timed(x, rate)
    problems = []
    if rms(0.0, 0.15) >= 1e-4:
        problems.append("sound before the first note")
    for on, off, note in ((0.2, 1.2, 60), (2.0, 3.0, 69), (4.0, 4.9, 48)):
        if not rms(on + 0.05, on + 0.15) > 0.01:
            problems.append(f"no sound right after note-on {note}")
        # median of 0.25 s windows: a period lost to an xrun made a whole-note estimate 0 Hz
        pitch = steady_f0(seg(on + 0.25, off - 0.05), rate)
        if not (pitch > 0 and abs(cents(pitch, hz(note))) < 10):
            problems.append(f"note {note} sounded at {pitch:.1f} Hz, expected {hz(note):.1f}")
    for a, b in ((1.7, 1.95), (3.5, 3.95), (7.1, 7.5)):
        if rms(a, b) >= 1e-4:
            problems.append(f"not silent {a}-{b} s after note-off + release")
    before, after = centroid(seg(4.3, 4.95), rate), centroid(seg(5.9, 6.45), rate)
    if not after < 0.8 * before:  # timbre 0 -> timbre 7: darker
        problems.append(f"the knob sweep did not darken: centroid {before:.0f} -> {after:.0f} Hz")
    # the played pitch survives the knob sweep
    pitch = steady_f0(seg(5.9, 6.45), rate)
    if not abs(cents(pitch, hz(48))) < 10:
        problems.append(f"note 48 after the sweep at {pitch:.1f} Hz, expected {hz(48):.1f}")
    return problems
