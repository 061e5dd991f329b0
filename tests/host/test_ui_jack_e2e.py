"""JACK end to end: ``rtsynth play canne --backend jack --ui`` in a terminal, played over JACK MIDI.

The view runs in its own process and reads what it shows from memory the
audio callback writes (``rtsynth.host.ui_link``), so this drives the whole
path as a performer does: a real JACK dummy server, rtsynth's real
``midi_in`` port fed by a test client, the real view process drawing into a
pseudo-terminal (``script``). What the terminal shows must be what the
callback did: the CC the client sent in the MIDI activity, the value it set
on its mapped parameter, a voice in use while the note is held.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import jackutil
from synth_bundles import make_synth_bundle

pytestmark = pytest.mark.jack

pytest.importorskip("textual")

NAME = "rt-ui"
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


def test_play_ui_shows_what_the_callback_did(jack_server, tmp_path):
    if shutil.which("script") is None:
        pytest.fail("expected `script` (util-linux) for the view's pseudo-terminal, found none")
    bundle = make_synth_bundle(tmp_path / "synth")
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name, PYTHONUNBUFFERED="1",
               TERM="xterm-256color")
    cmd = [sys.executable, "-m", "rtsynth", "play", "canne", "--backend", "jack", "--model",
           str(bundle), "--jack-name", NAME, "--ui", "--duration", "8"]
    shell = "stty cols 120 rows 36; exec " + " ".join(cmd)
    # CC 22 (latent.1 in the packaged map) to 127, then a held note; a quarter of a second
    # after the connection, which the server makes in a cycle of its own choosing
    rate = jack_server.rate
    schedule = [(rate // 4, bytes((0xB0, 22, 127))), (rate // 2, bytes((0x90, 60, 100)))]
    state = {"i": 0, "pos": None}
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(["script", "-qec", shell, "/dev/null"], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        try:
            with jackutil.client("rt-ui-feed", jack_server) as c:
                port = c.midi_outports.register("out")

                @c.set_process_callback
                def feed(frames):
                    port.clear_buffer()
                    if state["pos"] is not None:
                        state["i"] = jackutil.write_due_midi(port, schedule, state["i"],
                                                             state["pos"], frames)
                        state["pos"] += frames

                c.activate()
                jackutil.wait_for_port(c, f"{NAME}:midi_in", proc, timeout=90)
                time.sleep(1.0)  # the view is up and drawing
                c.connect(port, f"{NAME}:midi_in")
                state["pos"] = 0
                assert proc.wait(timeout=120) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        text = ANSI.sub("", out.read().decode(errors="replace"))
    assert "Traceback" not in text, text[-3000:]
    assert jackutil.parse_load(text) is not None, text[-3000:]  # the exit line
    assert "ch1 CC 22 = 127" in text, text[-3000:]  # from the shared MIDI monitor
    assert "note on  C4 100" in text, text[-3000:]
    # latent.1 was at the bottom of its range (0-1) as the synth starts, then at the CC's
    assert re.search(r"latent\.1 +·+ +0\.000", text), text[-3000:]
    assert re.search(r"latent\.1 +█+ +1\.000", text), text[-3000:]
    assert re.search(r"median [1-9][\d.]* %  xruns \d+  voices 1", text), text[-3000:]
