"""Faults a performer meets, each provoked for real: rtsynth says one sentence and goes on
(or stops cleanly).

- a MIDI source goes away and comes back (JACK: a keyboard client restarts; rtmidi:
  the same through rtmidi's JACK API, since this machine has no ALSA sequencer);
- the JACK server stops under ``play canne`` and ``play anne``;
- the server or device refuses the requested rate or block;
- the model returns NaN/Inf for some latents;
- Ctrl-C during ``render canne`` and ``render anne``.

Subprocesses run ``python -m rtsynth`` as a user does, on the session's private
JACK dummy server (or one of their own when the fault is the server's death).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import jackutil
from clirun import one_line_error, run_cli
from fault_bundles import add_nan_trap
from rtsynth.control import EventQueue
from rtsynth.engine import AnneEffect, CanneSynth
from rtsynth.errors import DeviceError
from rtsynth.host.monitor import Monitor
from rtsynth.model import load_bundle
from synth_bundles import make_identity_bundle, make_synth_bundle

pytestmark = pytest.mark.jack


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("fault-bundles")
    return {"synth": make_synth_bundle(root / "synth"),
            "identity": make_identity_bundle(root / "identity"),
            "nan_synth": add_nan_trap(make_synth_bundle(root / "nan_synth"), index=7),
            "nan_identity": add_nan_trap(make_identity_bundle(root / "nan_id"), index=3,
                                         threshold=0.9)}


class _Live:
    """``rtsynth play ...`` as a subprocess whose stderr lines are collected as they come."""

    def __init__(self, server, *args):
        env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "rtsynth", "play", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, stdin=subprocess.DEVNULL)
        self.err = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def wait_for(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not any(text in ln for ln in self.err):
            assert self.proc.poll() is None, (self.proc.returncode, self.err)
            assert time.monotonic() < deadline, (text, self.err)
            time.sleep(0.05)

    def stop(self):
        """SIGINT; (returncode, stdout, stderr lines)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)  # a Ctrl-C that rtsynth ignored fails the test, never hangs it
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read()
        self._reader.join(5)
        return self.proc.returncode, out, self.err


def _keyboard(server, name, note=None):
    """A JACK client ``name:out`` that plays ``note`` (on every 100th period) when given."""
    c = jackutil.open_client(name, server)
    port = c.midi_outports.register("out")
    count = [0]

    @c.set_process_callback
    def process(frames):
        port.clear_buffer()
        if note is not None and count[0] % 100 == 0:
            port.write_midi_event(0, bytes([0x90, note, 100]))
        count[0] += 1

    c.activate()
    return c


def _record(server, port, seconds):
    """RMS of ``port`` over ``seconds``, recorded by a JACK client."""
    got = []
    with jackutil.client("rt-fault-rec", server) as c:
        inp = c.inports.register("in")
        c.set_process_callback(lambda frames: got.append(float(np.sqrt(np.mean(
            inp.get_array() ** 2)))))
        c.activate()
        c.connect(port, inp)
        time.sleep(seconds)
        c.deactivate()
    return max(got, default=0.0)


# ------------------------------------------------------------ MIDI sources
def test_jack_midi_source_goes_away_and_comes_back(jack_server, bundles):
    kbd = _keyboard(jack_server, "rt-kbd")
    live = _Live(jack_server, "canne", "--backend", "jack", "--model", bundles["synth"],
                 "--jack-name", "rt-fault", "--midi-in", "rt-kbd")
    try:
        probe = kbd
        jackutil.wait_for_port(probe, "rt-fault:midi_in", live.proc)
        deadline = time.monotonic() + 10
        while not probe.get_all_connections("rt-kbd:out"):
            assert time.monotonic() < deadline and live.proc.poll() is None, live.err
            time.sleep(0.05)
        kbd.deactivate()
        kbd.close()
        live.wait_for("went away")
        time.sleep(0.5)
        assert live.proc.poll() is None, live.err  # still playing
        kbd = _keyboard(jack_server, "rt-kbd", note=60)
        live.wait_for("is back")
        assert _record(jack_server, "rt-fault:out_1", 1.0) > 0.01  # the note came through
    finally:
        rc, out, err = live.stop()
        kbd.close()
    assert rc == 0 and "Traceback" not in "\n".join(err), err
    assert sum("went away" in ln for ln in err) == 1, err
    assert sum("is back; reconnected" in ln for ln in err) == 1, err
    assert "rt-kbd:out" in err[0], err


def test_rtmidi_input_goes_away_and_comes_back(jack_server):
    rtmidi = pytest.importorskip("rtmidi")
    from rtsynth.host.midi_ports import close_midi_inputs, open_midi_inputs
    from rtsynth.host.midi_watch import RtMidiWatch

    api = rtmidi.API_UNIX_JACK  # the MIDI system here: no ALSA sequencer on this machine
    kbd = _keyboard(jack_server, "rt-rtkbd", note=62)
    queue = EventQueue(4096)
    opened, names = open_midi_inputs(queue, "rt-rtkbd", api=api, client_name="rt-rtmidi")
    try:
        watch = RtMidiWatch(opened, names, queue, api=api)
        time.sleep(1.0)
        assert watch.poll() == [] and queue.clear() > 0  # notes arrive
        kbd.deactivate()
        kbd.close()
        said = watch.poll()
        assert len(said) == 1 and "'rt-rtkbd:out' went away" in said[0], said
        assert watch.poll() == []  # said once
        kbd = _keyboard(jack_server, "rt-rtkbd", note=62)
        said = watch.poll()
        assert len(said) == 1 and "is back; reconnected" in said[0], said
        queue.clear()
        time.sleep(1.0)
        assert queue.clear() > 0  # the reopened port feeds the queue again
    finally:
        close_midi_inputs(opened)
        kbd.close()


# ------------------------------------------------------------ the server stops
@pytest.mark.parametrize("instrument", ["canne", "anne"])
def test_server_stop_exits_within_2_s_with_one_sentence(instrument, bundles):
    server = jackutil.start_server(rate=48000, blocksize=256)
    model = bundles["synth" if instrument == "canne" else "identity"]
    live = _Live(server, instrument, "--backend", "jack", "--model", model,
                 "--jack-name", f"rt-gone-{instrument}")
    try:
        line = live.proc.stdout.readline()  # the start line: the client is active
        assert "latency:" in line, (line, live.err)
        time.sleep(0.3)
        jackutil.stop_server(server)
        t = time.monotonic()
        live.proc.wait(10)
        took = time.monotonic() - t
    finally:
        rc, out, err = live.stop()
        jackutil.stop_server(server)
    assert rc == 1 and "Traceback" not in "\n".join(err), err
    lines = [ln for ln in err if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rtsynth: error: ") and "shut down" in lines[0]
    assert took < 2.0, took


def test_ctrl_c_with_a_frozen_server_still_exits_with_one_sentence(bundles):
    # a server that stops answering (here SIGSTOP) blocks JACK's deactivate for ever:
    # Ctrl-C must still end rtsynth, a few seconds later, saying why
    from rtsynth.host.live import STOP_TIMEOUT

    server = jackutil.start_server(rate=48000, blocksize=256)
    live = _Live(server, "canne", "--backend", "jack", "--model", bundles["synth"],
                 "--jack-name", "rt-frozen")
    try:
        line = live.proc.stdout.readline()
        assert "latency:" in line, (line, live.err)
        time.sleep(0.3)
        os.kill(server.process.pid, signal.SIGSTOP)
        time.sleep(0.3)
        t = time.monotonic()
        live.proc.send_signal(signal.SIGINT)
        live.proc.wait(STOP_TIMEOUT + 10)
        took = time.monotonic() - t
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        rc, out, err = live.stop()
        jackutil.stop_server(server)
    assert rc == 1 and "Traceback" not in "\n".join(err), err
    lines = [ln for ln in err if ln.strip()]
    assert len(lines) == 1 and re.search(r"rtsynth: error: backend=jack: expected the audio "
                                         r"stream to stop within 5 s", lines[0]), lines
    assert "DSP load" in out  # the exit report still comes
    assert STOP_TIMEOUT - 0.5 < took < STOP_TIMEOUT + 3.0, took


# ------------------------------------------------------------ refused settings
def test_jack_rate_refused_is_one_sentence(jack_server, bundles):
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name)
    r = run_cli("play", "anne", "--backend", "jack", "--model", bundles["identity"],
                "--jack-name", "rt-rate", "--sample-rate", "44100", env=env, timeout=60)
    line = one_line_error(r)
    assert "sample_rate=44100" in line and "48000" in line


def test_portaudio_rate_refused_falls_back_or_explains(monkeypatch):
    from types import SimpleNamespace

    from rtsynth.host import portaudio_backend as pa

    def check(device=None, samplerate=None, **kw):
        if samplerate != 48000:
            raise RuntimeError("Invalid sample rate")

    # a device that only takes 48 kHz (no real one here; PortAudio itself is not loaded,
    # so its JACK host API cannot outlive the test servers)
    sd = SimpleNamespace(check_output_settings=check, check_input_settings=check,
                         query_devices=lambda device=None, kind=None: {
                             "name": "Fake Card", "default_samplerate": 48000.0,
                             "max_output_channels": 2, "max_input_channels": 2, "hostapi": 0})
    monkeypatch.setattr(pa, "_sd", lambda: sd)
    assert pa.pick_rate(3, 44100) == 48000  # the model's rate refused: the device's default
    assert pa.pick_rate(3, 48000) == 48000
    with pytest.raises(DeviceError, match=r"sample_rate=44100: expected a rate device 3 "
                                          r"\(Fake Card\) accepts.*supports 48000 Hz"):
        pa.PortAudioHost(object(), 3, 44100, 256)


# ------------------------------------------------------------ the model breaks down
def test_canne_nan_latent_silences_the_frame_and_plays_on(bundles):
    synth = CanneSynth(load_bundle(bundles["nan_synth"]), sample_rate=48000)
    out = np.zeros(256)
    synth.note_on(60, 100)
    synth.note_on(67, 100)
    before = max(float(np.abs(synth.process(out)).max()) for _ in range(40))
    synth.set_latent_normalized(7, 1.0)  # into the model's NaN region
    during = [float(np.abs(synth.process(out)).max()) for _ in range(120)]
    assert np.all(np.isfinite(out)) and synth.model_nonfinite > 0
    assert during[-1] == 0.0 and synth.active_voices == 2  # silenced, not stopped
    synth.set_latent_normalized(7, 0.0)
    after = max(float(np.abs(synth.process(out)).max()) for _ in range(120))
    assert before > 0.01 and after > 0.1 * before  # back as soon as the latent leaves


def test_anne_nan_frame_is_silenced_and_the_rest_plays_on(bundles):
    fx = AnneEffect(load_bundle(bundles["nan_identity"]), sample_rate=16000)
    t = np.arange(32000) / 16000  # bins of 250 Hz: 750 Hz is bin 3 (the trap's), at half
    x = 0.25 * np.sin(2 * np.pi * 750 * t) + 0.5 * np.sin(2 * np.pi * 1500 * t)  # the peak

    def run(n):
        return np.concatenate([fx.process(x[i:i + 256]).copy() for i in range(0, n, 256)])

    y = run(16000)
    clean = fx.model_nonfinite  # the onset frame (the tone's first, partial window) may trip
    assert clean <= 2 and np.abs(y[4000:]).max() > 0.1
    fx.set_knobs([5.5] * 5)  # bin 3 pushed over the trap's 0.9: NaN frames
    y = run(16000)
    assert fx.model_nonfinite > clean + 100 and np.all(np.isfinite(y)) and np.abs(y[-4000:]).max() == 0.0
    fx.set_knobs([1.0] * 5)
    y = run(16000)
    assert np.abs(y[-4000:]).max() > 0.1


def test_monitor_says_a_model_fault_once(capsys):
    class Engine:
        model_nonfinite = 0

    class Host:
        engine = Engine()

    mon = Monitor(Host(), gc_interval=1e9)
    mon.tick(0.0)
    for _ in range(5):
        Host.engine.model_nonfinite += 3
        mon.tick(0.0)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("rtsynth: warning: ") and "NaN/Inf" in err[0]


def test_nan_model_live_warns_once_and_plays_on(jack_server, bundles):
    live = _Live(jack_server, "canne", "--backend", "jack", "--model", bundles["nan_synth"],
                 "--jack-name", "rt-nan")
    sent = {"n": 0}
    try:
        with jackutil.client("rt-nan-kbd", jack_server) as c:
            port = c.midi_outports.register("out")

            @c.set_process_callback
            def process(frames):
                port.clear_buffer()
                k = sent["n"]
                if k == 1:
                    port.write_midi_event(0, bytes([0x90, 60, 100]))
                elif k in (200, 600):  # CC 28 = latent 7: into the NaN region, and again
                    port.write_midi_event(0, bytes([0xB0, 28, 127]))
                elif k == 400:
                    port.write_midi_event(0, bytes([0xB0, 28, 0]))
                sent["n"] = k + (k > 0 or sent.get("go", False))

            c.activate()
            assert "latency:" in live.proc.stdout.readline(), live.err  # rtsynth is active
            c.connect(port, "rt-nan:midi_in")
            sent["go"] = True
            live.wait_for("NaN/Inf")
            deadline = time.monotonic() + 30
            while sent["n"] < 700:
                assert time.monotonic() < deadline, ("the keyboard stopped", sent, live.err)
                time.sleep(0.05)
            time.sleep(0.5)
            assert live.proc.poll() is None, live.err
            c.deactivate()
    finally:
        rc, out, err = live.stop()
    assert rc == 0, err
    # (the test's keyboard leaving before the Ctrl-C is reported too: that is right)
    assert sum("NaN/Inf" in ln for ln in err) == 1 and "Traceback" not in "\n".join(err), err
    assert "xruns:" in out


# ------------------------------------------------------------ Ctrl-C during a render
def _interrupt_render(args, folder, out):
    """Start ``rtsynth render ARGS``; SIGINT once its temporary output file exists."""
    proc = subprocess.Popen([sys.executable, "-m", "rtsynth", "render", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not list(folder.glob(f".{out.stem}.*")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the render never started writing"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def test_ctrl_c_during_render_canne_leaves_no_file(tmp_path, bundles):
    import mido

    midi = tmp_path / "long.mid"
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    for i in range(600):  # 10 minutes at 120 bpm: a note a second
        track.append(mido.Message("note_on", note=48 + i % 24, velocity=100, time=0))
        track.append(mido.Message("note_off", note=48 + i % 24, velocity=0, time=960))
    mid.tracks.append(track)
    mid.save(midi)
    out = tmp_path / "out.wav"
    rc, err = _interrupt_render(["canne", "--model", bundles["synth"], "--midi", midi,
                                 "--out", out], tmp_path, out)
    assert rc == 130 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mid"]


def test_ctrl_c_during_render_anne_leaves_no_file(tmp_path, bundles):
    import soundfile as sf

    wav = tmp_path / "long.wav"
    rate = 16000
    t = np.arange(600 * rate) / rate  # 10 minutes
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    out = tmp_path / "out.wav"
    rc, err = _interrupt_render(["anne", "--model", bundles["identity"], "--in", wav,
                                 "--out", out], tmp_path, out)
    assert rc == 130 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]
