"""The ANNe default mapping (knobs, wet, bypass) and merging it with CANNe's."""

import pytest

from rtsynth.control import CommandMapper, default_mapping, merge_mappings, validate_mapping
from rtsynth.errors import InputError


def cc(n, v, ch=0):
    return (0xB0 | ch, n, v)


def test_default_anne_map_knobs_wet_bypass():
    m = CommandMapper(default_mapping("anne"))
    out = m.map_all([cc(29, 0), cc(33, 127), cc(31, 64), cc(34, 0), cc(34, 127), cc(35, 64),
                     cc(35, 63), cc(21, 10), (0x90, 60, 100)])
    assert out[:7] == [("knob", 0, 0.0), ("knob", 4, 1.0), ("knob", 2, pytest.approx(64 / 127)),
                       ("wet", 0.0), ("wet", 1.0), ("bypass", True), ("bypass", False)]
    # CANNe's latent CCs mean nothing to the effect map; notes pass through as always
    assert out[7:] == [("note_on", 60, 100)]


def test_merged_map_drives_both_instruments_and_shares_no_cc():
    m = CommandMapper(merge_mappings(default_mapping("canne"), default_mapping("anne")))
    out = m.map_all([cc(21, 127), cc(28, 0), cc(29, 127), cc(34, 0), cc(64, 127)])
    assert out == [("latent", 0, 1.0), ("latent", 7, 0.0), ("knob", 0, 1.0), ("wet", 0.0),
                   ("sustain", True)]


def test_merging_maps_that_share_a_cc_is_an_error():
    clash = validate_mapping({"map": [{"cc": 21, "param": "wet"}]}, source="clash.toml")
    with pytest.raises(InputError, match=r"expected each source to be mapped once per channel, "
                                         r"found map\[11\] \(wet\) using cc 21 on channel 1"):
        merge_mappings(default_mapping("canne"), clash)


@pytest.mark.parametrize("entry,match", [
    ({"cc": 40, "param": "knob.f"}, r"m\.toml: expected map\[0\]\.param to be a parameter .*"
                                    r"found map\[0\]\.param='knob\.f'"),
    ({"cc": 40, "param": "wet", "bits": 14}, r"expected map\[0\]\.cc to be 0\.\.31 for a 14-bit cc"),
    ({"cc": 40, "param": "knob.a", "range": [0.0, 9.0]},
     r"expected map\[0\]\.range to be \[low, high\] within 0\.5\.\.5\.5"),
])
def test_bad_effect_entries(entry, match):
    with pytest.raises(InputError, match=match):
        validate_mapping({"map": [entry]}, source="m.toml")
