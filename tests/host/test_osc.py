"""OSC input: real UDP messages to the server on localhost move the engine's parameters."""

import time

import numpy as np
import pytest

from rtsynth.engine.canne import CanneSynth
from rtsynth.engine.schedule import render_with_events
from rtsynth.errors import DeviceError
from rtsynth.host.controls import build_controls
from rtsynth.host.osc import OscInput
from rtsynth.host.runtime import EventSlots
from rtsynth.model import load_bundle
from synth_bundles import make_synth_bundle

pytest.importorskip("pythonosc")
SR = 22050


@pytest.fixture
def session(tmp_path):
    bundle = load_bundle(make_synth_bundle(tmp_path / "b", sample_rate=SR))
    controls = build_controls("canne", bundle.manifest)
    synth = CanneSynth(bundle, sample_rate=SR, hop=128)
    controls.attach(synth)
    server = OscInput(controls, 0).start()  # any free port on 127.0.0.1
    yield controls, synth, server
    server.stop()


def pump(controls, synth, server, expect, timeout=5.0):
    """Run audio blocks (draining the inbox, as the callback does) until ``expect`` messages came."""
    deadline = time.monotonic() + timeout
    buf = np.zeros(64)
    while time.monotonic() < deadline:
        out = controls.automation.run([], 64, EventSlots())
        render_with_events(synth, buf, out, 0, 64)
        if server.received >= expect and not len(controls.inbox):
            return
        time.sleep(0.01)
    raise AssertionError(f"only {server.received} of {expect} OSC messages arrived")


def test_osc_messages_move_parameters(session):
    from pythonosc.udp_client import SimpleUDPClient

    controls, synth, server = session
    assert server.host == "127.0.0.1" and server.port > 0
    client = SimpleUDPClient("127.0.0.1", server.port)
    client.send_message("/latent.2", 0.75)
    client.send_message("/attack", 0.4)
    client.send_message("/latent/5", 0.125)          # slashes for dots
    client.send_message("/volume/unit", 1.0)         # a 0..1 fader on the parameter's curve
    client.send_message("/mode", 1)
    pump(controls, synth, server, 5)
    assert synth.latents[2] == pytest.approx(0.75) and synth.latents[5] == pytest.approx(0.125)
    assert synth.adsr[0] == pytest.approx(0.4) and synth.volume == pytest.approx(2.0)
    assert synth.mode == "shift"
    assert controls.automation.get_param("latent.2") == pytest.approx(0.75)
    assert server.errors == 0


def test_bad_osc_messages_are_counted_not_raised(session):
    from pythonosc.udp_client import SimpleUDPClient

    controls, synth, server = session
    client = SimpleUDPClient("127.0.0.1", server.port)
    client.send_message("/colour", 1.0)
    client.send_message("/latent.0", "loud")
    client.send_message("/program", 2)                # recalls the bank's third preset
    pump(controls, synth, server, 3)
    assert server.errors == 2 and "latent.0" in server.last_error  # the latest one
    assert synth.latents.tolist() == pytest.approx(list(controls.presets[2].values.values()))


def test_a_taken_port_is_one_sentence(session):
    controls, _, server = session
    with pytest.raises(DeviceError, match=rf"osc={server.port}: expected a free UDP port on 127\.0\.0\.1"):
        OscInput(controls, server.port).start()
