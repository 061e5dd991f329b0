"""CANNe through ANNe: offline render = effect over the plain render; knobs of both mapped."""

import mido
import numpy as np
import pytest
import soundfile as sf

from clirun import run_cli
from model_bundles import make_bundle
from rtsynth.engine import AnneEffect
from rtsynth.host.render import render_midi
from rtsynth.model import load_bundle
from synth_bundles import make_synth_bundle

RATE = 22050  # the synth bundle's rate; the effect bundle runs at 16 kHz (resampled)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    return {"synth": make_synth_bundle(root / "synth"), "fx": make_bundle(root / "fx")}


def events():
    """Two notes, a CANNe latent CC and ANNe knob / wet CCs, at known samples."""
    return [(0, ("note_on", 60, 100)), (3000, ("latent", 1, 0.8)), (5000, ("knob", 0, 1.0)),
            (7000, ("wet", 0.5)), (8000, ("note_off", 60)), (9000, ("note_on", 67, 90)),
            (14000, ("note_off", 67))]


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_fx_render_is_the_effect_over_the_plain_render(dirs, block):
    synth_only = [e for e in events() if e[1][0] not in ("knob", "wet")]
    plain = render_midi(dirs["synth"], synth_only, None, block=block, keep_audio=True,
                        progress=False).audio.astype(np.float64)
    r = render_midi(dirs["synth"], events(), None, block=block, keep_audio=True, progress=False,
                    fx=dirs["fx"], fx_options={"knobs": (1, 2, 1, 1, 1)})
    fx = AnneEffect(load_bundle(dirs["fx"]), sample_rate=RATE, knobs=(1, 2, 1, 1, 1))
    lag = fx.latency_samples
    x = np.concatenate([plain, np.zeros(r.n_samples + lag)])
    ref = np.zeros_like(x)
    pos = 0
    for t, cmd in [e for e in events() if e[1][0] in ("knob", "wet")] + [(x.size, None)]:
        for i in range(pos, t, 1000):  # up to the knob and wet moves' samples
            fx.process(x[i:min(t, i + 1000)], out=ref[i:min(t, i + 1000)])
        pos = t
        if cmd is not None:
            fx.apply(cmd)
    assert r.n_samples >= plain.size  # the effect's tail is kept
    np.testing.assert_allclose(r.audio, ref[lag:lag + r.n_samples], atol=1e-6)
    assert np.max(np.abs(r.audio)) > 0.01


def test_cli_render_canne_fx_maps_both_cc_sets(tmp_path, dirs):
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.Message("note_on", note=60, velocity=100, time=0))
    tr.append(mido.Message("control_change", control=22, value=100, time=240))  # CANNe latent 1
    tr.append(mido.Message("control_change", control=29, value=127, time=0))   # ANNe knob a
    tr.append(mido.Message("control_change", control=34, value=0, time=240))   # ANNe wet 0
    tr.append(mido.Message("note_off", note=60, velocity=0, time=480))
    mid.save(tmp_path / "a.mid")
    outs = {}
    for name, fx in (("plain", []), ("fx", ["--fx", dirs["fx"], "--knobs", "1,1,1,2,1"])):
        r = run_cli("render", "canne", "--model", dirs["synth"], "--midi", tmp_path / "a.mid",
                    "--out", tmp_path / f"{name}.wav", *fx)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        outs[name] = sf.read(str(tmp_path / f"{name}.wav"))[0]
    assert "latency compensated" in r.stdout
    # CC 34 = 0 turned the effect to dry at 0.5 s: once the wet ramp (time constant
    # 20 ms) has settled, the chain plays the plain synth exactly and time-aligned
    a, b = outs["plain"], outs["fx"]
    t = int(0.5 * RATE) + 7000
    np.testing.assert_array_equal(b[t:t + 3000], a[t:t + 3000])
    early = slice(int(0.1 * RATE), int(0.45 * RATE))
    assert np.linalg.norm(b[early] - a[early]) > 0.05 * np.linalg.norm(a[early])
