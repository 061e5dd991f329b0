"""The private JACK dummy server really moves audio and MIDI between ports."""

import threading

import numpy as np
import pytest

import jackutil

pytestmark = pytest.mark.jack

N_BLOCKS = 64
MOD = 997  # period of the test ramp: coprime with any power-of-two blocksize


def test_audio_loopback_through_server(jack_server):
    bs = jack_server.blocksize
    total = N_BLOCKS * bs
    # The ramp depends on the absolute frame index, so whatever cycle the
    # connection takes effect on, input == output delayed by a fixed amount.
    sig = (((np.arange(total) % MOD) + 1) / (MOD + 1)).astype(np.float32)
    rec = np.zeros(total, dtype=np.float32)
    pos = [0]
    done = threading.Event()

    with jackutil.client("rtsynth-test-audio", jack_server) as client:
        out = client.outports.register("out")
        inp = client.inports.register("in")

        @client.set_process_callback
        def process(frames):
            t = pos[0]
            if t + frames > total:
                out.get_array()[:] = 0.0
                done.set()
                return
            out.get_array()[:] = sig[t:t + frames]
            rec[t:t + frames] = inp.get_array()
            pos[0] = t + frames

        assert client.samplerate == jack_server.rate == 48000
        assert client.blocksize == jack_server.blocksize == 256
        client.activate()
        client.connect(out, inp)
        assert done.wait(10.0), f"only {pos[0]} of {total} frames processed in 10 s"
        client.deactivate()

    nonzero = np.flatnonzero(rec)
    assert nonzero.size, "nothing arrived at the input port"
    first = int(nonzero[0])
    assert first % bs == 0, f"first={first}: expected the loop to start on a block boundary"
    assert total - first >= total // 2, f"first={first}: the connection took too long"
    matches = [d for d in (0, bs)
               if first >= d and np.array_equal(rec[first:], sig[first - d:total - d])]
    assert matches, "recorded signal is not the sent ramp delayed by 0 or 1 period"


def test_midi_note_on_through_server(jack_server):
    note_on = bytes([0x90, 60, 100])
    offset = 17
    received = []
    got = threading.Event()

    with jackutil.client("rtsynth-test-midi", jack_server) as client:
        out = client.midi_outports.register("out")
        inp = client.midi_inports.register("in")

        @client.set_process_callback
        def process(frames):
            for off, data in inp.incoming_midi_events():
                received.append((off, bytes(data)))
                got.set()
            out.clear_buffer()
            # Keep sending until one arrives: events sent before the
            # connection takes effect are (correctly) dropped.
            if not got.is_set():
                out.write_midi_event(offset, note_on)

        client.activate()
        client.connect(out, inp)
        assert got.wait(10.0), "no MIDI event arrived within 10 s"
        client.deactivate()

    assert received[0] == (offset, note_on)
    assert all(ev == (offset, note_on) for ev in received)


CLOSE_LOOP = """
import sys, threading, time, types
sys.path.insert(0, {tests!r})
import jackutil
server = types.SimpleNamespace(name={name!r})  # open_client needs only the name
busy = [True]
def contend():
    while busy[0]:
        sum(range(2000))
threading.Thread(target=contend, daemon=True).start()
for i in range({n}):
    c = jackutil.open_client(f"rt-close-{{i}}", server)
    port = c.midi_outports.register("out")
    def process(frames):
        port.clear_buffer()
        sum(range(3000))  # a callback that is in Python when the close comes
        port.write_midi_event(0, bytes([0x90, 60, 100]))
    c.set_process_callback(process)
    c.activate()
    time.sleep(0.05)
    if i % 2:
        c.deactivate()
    c.close()
busy[0] = False
print("closed", {n}, flush=True)
"""


def test_test_clients_close_without_hanging(jack_server):
    """The tests' own JACK clients close while their Python callback runs, without the
    hang a plain ``jack.Client.close`` has there (JACK2 cancels the process thread
    inside the interpreter): a plain close hung at the second client of this loop on
    this machine, and once in a whole-suite run (stop 18)."""
    import os
    import subprocess
    import sys

    code = CLOSE_LOOP.format(tests=os.path.dirname(__file__), name=jack_server.name, n=20)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "closed 20" in r.stdout, (r.stdout, r.stderr)
