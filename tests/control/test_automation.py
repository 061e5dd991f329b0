"""Parameters through the engine: CC sweeps follow their curves, glides, program changes, mirror."""

import numpy as np
import pytest

from rtsynth.control import Automation, CommandMapper, param_specs
from rtsynth.control.params import from_unit, to_unit
from rtsynth.engine.canne import CanneSynth
from rtsynth.engine.chain import AudioInput, Chain
from rtsynth.engine.schedule import render_with_events
from rtsynth.host.runtime import EventSlots
from rtsynth.model import load_bundle
from synth_bundles import make_identity_bundle, make_synth_bundle

SR = 22050


@pytest.fixture(scope="module")
def synth_bundle(tmp_path_factory):
    return load_bundle(make_synth_bundle(tmp_path_factory.mktemp("synth"), sample_rate=SR))


@pytest.fixture(scope="module")
def effect_bundle(tmp_path_factory):
    return load_bundle(make_identity_bundle(tmp_path_factory.mktemp("identity")))


def drive(engine, automation, mapper, messages, n=256):
    """Map raw MIDI, run the automation and apply the result to ``engine`` for one block."""
    events = EventSlots()
    for m in messages:
        mapper.map(*m, events)
    out = automation.run(events, n, EventSlots())
    buf = np.zeros(n)
    render_with_events(engine, buf, out, 0, n)
    return buf


@pytest.mark.parametrize("curve", ["lin", "log", "exp"])
def test_cc_sweep_moves_the_synth_along_its_curve(synth_bundle, curve):
    synth = CanneSynth(synth_bundle, sample_rate=SR, hop=128)
    specs = param_specs("canne", synth_bundle.manifest)
    mapping = {"map": [{"param": "latent.2", "cc": 21, "curve": curve},
                       {"param": "attack", "cc": 22, "curve": curve, "range": [0.01, 2.0]},
                       {"param": "volume", "cc": 23, "curve": curve}]}
    mapper, auto = CommandMapper(mapping, specs), Automation(specs, SR)
    for v in range(0, 128, 7):
        drive(synth, auto, mapper, [(0xB0, 21, v), (0xB0, 22, v), (0xB0, 23, v)], n=64)
        u = v / 127
        assert synth.latents[2] == pytest.approx(from_unit(u, 0.0, 1.0, curve))
        assert synth.adsr[0] == pytest.approx(from_unit(u, 0.01, 2.0, curve))
        assert synth.volume == pytest.approx(from_unit(u, 0.0, 2.0, curve))
        assert auto.get_param("attack") == pytest.approx(synth.adsr[0])
    # the curves are what they say: exp is fine at the bottom, log at the top
    mid = from_unit(0.5, 0.0, 1.0, curve)
    assert {"lin": mid == 0.5, "exp": mid < 0.2, "log": mid > 0.8}[curve]
    assert to_unit(mid, 0.0, 1.0, curve) == pytest.approx(0.5)


def test_effect_knobs_gains_wet_bypass_through_the_chain(effect_bundle):
    from rtsynth.engine.anne import AnneEffect

    fx = AnneEffect(effect_bundle)
    chain = Chain(AudioInput(fx.sample_rate), fx)
    specs = param_specs("anne", effect_bundle.manifest)
    auto = Automation(specs, fx.sample_rate)
    mapping = {"map": [{"param": "knob.b", "cc": 1}, {"param": "gain.3", "cc": 2},
                       {"param": "wet", "cc": 3}, {"param": "bypass", "cc": 4}]}
    mapper = CommandMapper(mapping, specs)
    drive(chain, auto, mapper, [(0xB0, 1, 127), (0xB0, 2, 0), (0xB0, 3, 64), (0xB0, 4, 127)])
    assert fx.knobs[1] == 5.5 and fx.neuron_gains[3] == 0.0
    assert fx.wet == pytest.approx(64 / 127) and fx.bypass
    # a neuron gain multiplies its knob's gain; the knob keeps the neuron's own gain
    fx.apply(("gain", 3, 2.0))
    fx.apply(("knob", 0, 0.1))
    knob_of_3 = next(k for k in range(5) if 3 < sum(fx.sizes[:k + 1]))
    assert fx._gain[3] == pytest.approx(2.0 * fx.knobs[knob_of_3])


def test_mode_and_adsr_commands(synth_bundle):
    synth = CanneSynth(synth_bundle, sample_rate=SR, hop=128)
    assert synth.apply(("mode", 1)) and synth.mode == "shift"
    assert synth.apply(("adsr", 3, 1.5)) and synth.adsr[3] == 1.5
    assert all(v.env._params[3] == pytest.approx(1.5 * SR) for v in synth._voices)


def test_glide_reaches_the_target_on_a_block_independent_grid(synth_bundle):
    specs = param_specs("canne", synth_bundle.manifest)
    runs = []
    for block in (64, 100, 256):
        auto = Automation(specs, SR, grid=128)
        got, t, events = [], 0, [(30, ("set", "latent.0", 1.0, 0.05))]
        while t < 4096:
            block_events = [(o - t, c) for o, c in events if t <= o < t + block]
            out = auto.run(block_events, block, EventSlots())
            got += [(t + out[i][0], out[i][1]) for i in range(len(out))]
            t += block
        runs.append(got)
    assert runs[0] == runs[1] == runs[2]
    times = [t for t, _ in runs[0]]
    assert times[0] == 128 and all(b - a == 128 for a, b in zip(times, times[1:]))
    # linear from the default to 1.0 over 0.05 s, ending exactly on the target
    assert runs[0][-1][1] == ("latent", 0, 1.0) and times[-1] >= 30 + int(0.05 * SR)
    assert runs[0][-1][0] < 30 + int(0.05 * SR) + 128


def test_glide_of_a_late_parameter_runs_ahead_by_the_engines_lead(synth_bundle, effect_bundle):
    """CANNe's latents are heard a hop after the tick that applies them: their glides run
    up to a hop ahead (catching up at double speed), so the sound ends with the glide;
    a parameter without a lead (the volume) glides on time."""
    from rtsynth.engine.anne import AnneEffect

    synth = CanneSynth(synth_bundle, sample_rate=SR, hop=256)
    assert synth.glide_lead == {"latent": 256}
    fx = AnneEffect(effect_bundle, sample_rate=SR)
    m = effect_bundle.manifest
    hop = round(m.hop * SR / m.sample_rate)  # one model hop at the device rate
    assert fx.glide_lead == {"knob": hop, "gain": hop}
    assert Chain(synth, fx).glide_lead == {"latent": 256, "knob": hop, "gain": hop}
    specs = param_specs("canne", synth_bundle.manifest)
    auto = Automation(specs, SR, grid=128, leads=synth.glide_lead)
    t0, span = 30, int(0.05 * SR)
    out = auto.run([(t0, ("set", "latent.0", 0.0, 0.05)), (t0, ("set", "volume", 0.0, 0.05))],
                   4096, EventSlots())
    steps = {"latent": [], "volume": []}
    for i in range(len(out)):
        off, cmd = out[i]
        steps[cmd[0]].append((off, cmd[-1]))
    start = auto.specs[0].default  # latent.0 (range 0..1) glides from its preset to 0
    assert auto.specs[0].name == "latent.0" and start == 1.0
    for off, v in steps["latent"]:
        done = off - t0
        due = min(span, done + min(done, 256))
        assert v == pytest.approx(start * (1.0 - due / span))
    # the latent ends one lead early, the volume on time (both on the 128 grid)
    assert steps["latent"][-1] == (-(-(t0 + span - 256) // 128) * 128, 0.0)
    assert steps["volume"][-1] == (-(-(t0 + span) // 128) * 128, 0.0)
    for off, v in steps["volume"]:
        assert v == pytest.approx(1.0 - min(1.0, (off - t0) / span))


def test_program_change_recalls_a_preset_and_engine_commands_update_the_mirror(synth_bundle):
    specs = param_specs("canne", synth_bundle.manifest)
    auto = Automation(specs, SR, presets=[{"attack": 0.5}, {"latent.1": 0.25, "mode": 2.0}])
    out = auto.run([(0, ("program", 1)), (5, ("program", 7)), (9, ("wet", 0.5))], 64, EventSlots())
    assert [out[i][1] for i in range(len(out))] == [("latent", 1, 0.25), ("mode", 2), ("wet", 0.5)]
    assert auto.get_param("latent.1") == 0.25 and auto.state()["mode"] == 2.0
    auto.run([(0, ("adsr", 0, 0.3)), (1, ("latent", 0, 0.5))], 64, EventSlots())
    assert auto.get_param("attack") == 0.3 and auto.get_param("latent.0") == 0.5
    with pytest.raises(Exception, match=r"expected a parameter name among latent\.\*"):
        auto.get_param("colour")
