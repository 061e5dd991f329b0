"""Fuzz the preset bank loader with malformed files: an InputError naming the file, or
valid presets, and nothing else.

Cases are the shipped ``models/canne/presets.toml`` (and ANNe's when shipped)
broken line by line (``tests/tomlfuzz.py``).
"""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from rtsynth.control.params import param_specs
from rtsynth.control.presets import Preset, load_presets
from rtsynth.errors import InputError
from tomlfuzz import broken_toml

MODELS = Path(__file__).resolve().parents[2] / "models"
BANKS = {i: MODELS / i / "presets.toml" for i in ("canne", "anne")
         if (MODELS / i / "presets.toml").is_file()}


@pytest.mark.parametrize("instrument", sorted(BANKS))
def test_malformed_preset_files_raise_only_input_error(tmp_path, instrument):
    specs = param_specs(instrument)
    text = BANKS[instrument].read_text(encoding="utf-8")
    path = tmp_path / "presets.toml"

    @settings(max_examples=1500, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(raw=broken_toml(text))
    def run(raw):
        path.write_bytes(raw)
        try:
            presets = load_presets(path, specs)
        except InputError as e:
            msg = str(e)
            assert msg.startswith(str(path)) and "expected" in msg and "\n" not in msg, msg
            return
        assert all(isinstance(p, Preset) for p in presets)

    run()
