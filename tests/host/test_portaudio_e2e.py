"""PortAudio end to end: `rtsynth play canne --backend portaudio`, played and recorded.

There is no sound card here: the JACK dummy server is the audio device, and
rtsynth reaches it the way it reaches any card, through PortAudio
(sounddevice) and PortAudio's JACK host API. MIDI comes the PortAudio
backend's way too, through rtmidi (its JACK MIDI API: there is no ALSA
sequencer on this machine). The test owns a JACK client with a MIDI output,
which rtsynth opens with ``--midi-in``, and an audio input, connected to the
ports PortAudio opened for rtsynth's stream; it plays two notes and a knob
sweep and records.

Unlike the JACK backend, MIDI through rtmidi lands at the start of the next
block and PortAudio adds buffering of its own, so times here are checked to
within tens of milliseconds, not to the sample.
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
from clirun import run_cli
from e2e_audio import centroid, cents, hz, knob_sweep, play_and_record, steady_f0, timed
from synth_bundles import make_synth_bundle

pytestmark = pytest.mark.jack

SECONDS = 6.0
CLIENT = "rt-pa-e2e"


def _schedule(rate):
    """[(frame, bytes)] relative to the recording start."""
    ev = [(int(0.5 * rate), bytes([0x90, 60, 100])), (int(1.7 * rate), bytes([0x80, 60, 0])),
          (int(2.5 * rate), bytes([0x90, 69, 100])), (int(5.0 * rate), bytes([0x80, 69, 0]))]
    # the JACK end-to-end test's sweep, over 3.7 .. 4.1 s: CC 21 (latent 0) down to 0,
    # CC 28 (latent 7) up to 127, CC 22-27 up and back to 0 -> ends on timbre 7 (darker)
    for i in range(21):
        t, frac = int((3.7 + 0.02 * i) * rate), i / 20
        ev.append((t, bytes([0xB0, 21, int(round(127 * (1 - frac)))])))
        ev.append((t, bytes([0xB0, 28, int(round(127 * frac))])))
        for cc in range(22, 28):
            ev.append((t, bytes([0xB0, cc, int(round(60 * (1 - abs(1 - 2 * frac))))])))
    return sorted(ev, key=lambda e: e[0])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_synth_bundle(tmp_path_factory.mktemp("bundle"), n_fft=4096, hop=1024,
                             sample_rate=44100)


def _portaudio_ports(client, before):
    """Audio output ports that appeared since ``before``, other than the test's own."""
    return [p.name for p in client.get_ports(is_audio=True, is_output=True)
            if p.name not in before and not p.name.startswith(CLIENT + ":")]


def test_devices_lists_the_jack_device_and_jack_midi_ports(jack_server):
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name)
    with jackutil.client(CLIENT, jack_server) as c:
        c.midi_outports.register("midi_out")
        c.activate()
        r = run_cli("devices", env=env, timeout=60)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert re.search(r"system \[JACK Audio Connection Kit\] 2 in / 2 out", r.stdout), r.stdout
    assert f"{CLIENT}:midi_out" in r.stdout, r.stdout  # rtmidi's JACK MIDI API, no ALSA here


def test_notes_and_a_knob_over_portaudio_and_rtmidi(jack_server, bundle):
    rate = jack_server.rate
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name, PYTHONUNBUFFERED="1")
    schedule = _schedule(rate)
    rec = np.zeros(int(SECONDS * rate), dtype=np.float32)
    state = {"armed": False, "pos": 0, "i": 0}
    with jackutil.client(CLIENT, jack_server) as c:
        midi_out = c.midi_outports.register("midi_out")
        audio_in = c.inports.register("in")

        c.set_process_callback(play_and_record(midi_out, audio_in, schedule, rec, state))

        c.activate()
        before = {p.name for p in c.get_ports(is_audio=True, is_output=True)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "rtsynth", "play", "canne", "--backend", "portaudio",
             "--device", "system", "--midi-in", CLIENT, "--model", str(bundle)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            stdin=subprocess.DEVNULL)
        try:
            line = proc.stdout.readline()
            assert "latency:" in line and "backend portaudio" in line, (line, proc.communicate())
            deadline = time.monotonic() + 30
            while not _portaudio_ports(c, before):
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.1)
            c.connect(_portaudio_ports(c, before)[0], audio_in)
            time.sleep(0.5)
            state["armed"] = True
            jackutil.wait_recorded(proc, lambda: state["pos"] >= rec.size,
                                   lambda: ("the recorder stopped", state["pos"]))
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        c.deactivate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert re.search(r"DSP load: median [\d.]+ %, p99 [\d.]+ %, max [\d.]+ %", out), out
    assert re.search(r"latency: \d+ samples", line), line

    x = rec.astype(np.float64)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 1.0

    seg, rms = timed(x, rate)

    assert rms(0.0, 0.4) < 1e-4, "sound before the first note"
    for on, off, note in ((0.5, 1.7, 60), (2.5, 3.65, 69)):
        assert rms(on + 0.1, on + 0.2) > 0.01, f"no sound after note-on {note}"
        pitch = steady_f0(seg(on + 0.3, off - 0.05), rate)
        assert pitch > 0 and abs(cents(pitch, hz(note))) < 10, (note, pitch)
    assert rms(2.1, 2.45) < 1e-4, "not silent after note-off + release"
    before_knob, after_knob = centroid(seg(3.0, 3.65), rate), centroid(seg(4.3, 4.95), rate)
    assert after_knob < 0.8 * before_knob, (before_knob, after_knob)
    assert rms(5.6, 6.0) < 1e-4, "not silent at the end"
