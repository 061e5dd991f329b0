"""Presets: save, load, equal state; program change recalls; shipped banks; clear errors."""

from pathlib import Path

import pytest

from rtsynth.control import Automation, param_specs
from rtsynth.control.presets import Preset, find_preset, load_presets, save_preset
from rtsynth.engine.canne import CanneSynth
from rtsynth.errors import InputError
from rtsynth.host.controls import build_controls, read_state
from rtsynth.host.runtime import EventSlots
from rtsynth.model import load_bundle, load_manifest
from synth_bundles import make_synth_bundle

SR = 22050


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(make_synth_bundle(tmp_path_factory.mktemp("synth"), sample_rate=SR))


def test_round_trip_save_load_equal_state(tmp_path, bundle, rng):
    specs = param_specs("canne", bundle.manifest)
    synth = CanneSynth(bundle, sample_rate=SR)
    for cmd in [("latent", i, float(rng.uniform())) for i in range(8)] + [
            ("adsr", 0, 0.25), ("adsr", 2, 0.5), ("volume", 0.7), ("mode", 1)]:
        synth.apply(cmd)
    state = read_state(synth, specs)
    path = save_preset(tmp_path / "bank.toml", Preset("mine", state), specs, "canne")
    save_preset(path, Preset("other", {"volume": 1.5}), specs)
    bank = load_presets(path, specs)
    assert [p.name for p in bank] == ["mine", "other"]
    assert bank[0].values == pytest.approx(state)
    # recall into a fresh engine through program change 0: the same state
    fresh = CanneSynth(bundle, sample_rate=SR)
    auto = Automation(specs, SR, presets=[p.values for p in bank])
    out = auto.run([(0, ("program", 0))], 64, EventSlots())
    for i in range(len(out)):
        fresh.apply(out[i][1])
    assert read_state(fresh, specs) == pytest.approx(state)
    assert auto.state() == pytest.approx(state)
    # saving a preset of the same name replaces it
    save_preset(path, Preset("mine", {"attack": 1.0}), specs)
    assert [p.values for p in load_presets(path, specs)][0] == {"attack": 1.0}


@pytest.mark.parametrize("text, match", [
    ('[[preset]]\nname = "a"\n[preset.values]\ncolour = 1\n',
     r"p\.toml:4: expected preset\[0\]\.values\.colour to be a parameter of this instrument"),
    ('[[preset]]\nname = "a"\n[preset.values]\nattack = 1\nsustain = 3\n',
     r"p\.toml:5: expected preset\[0\]\.values\.sustain to be a number in 0\.\.1, found .*=3"),
    ('[[preset]]\nname = "a"\n[[preset]]\nname = "a"\n',
     r"p\.toml:4: expected preset\[1\]\.name to be a non-empty name used once"),
    ('[[preset]\n', r"p\.toml: expected valid TOML, found .*line 1"),
])
def test_bad_preset_files(tmp_path, text, match):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_presets(path, param_specs("canne"))


def test_dotted_keys_and_unknown_names(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[[preset]]\nname = "a"\nvalues = { latent.0 = 0.5 }\n')
    assert load_presets(path, param_specs("canne"))[0].values == {"latent.0": 0.5}
    with pytest.raises(InputError, match=r"preset='b': expected a preset name in x \(a\)"):
        find_preset(load_presets(path, param_specs("canne")), "b", "x")


@pytest.mark.parametrize("model, instrument", [("canne", "canne"), ("anne", "anne"),
                                               ("anne-48k", "anne")])
def test_shipped_banks_load_and_start(model, instrument):
    folder = Path(__file__).resolve().parents[2] / "models" / model
    if not (folder / "presets.toml").is_file():
        pytest.skip(f"models/{model} is not shipped here")
    manifest = load_manifest(folder)
    controls = build_controls(instrument, manifest)
    assert len(controls.presets) >= 3
    first = controls.presets[0].name
    assert build_controls(instrument, manifest, preset=first).start.name == first
