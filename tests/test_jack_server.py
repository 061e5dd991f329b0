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
