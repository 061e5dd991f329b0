"""The ANNe default CC map, the knob/wet/bypass params, and merging with the CANNe map."""

import pytest

from rtsynth.control import ANNE_MAP_NAME, CommandMapper, default_map, merge_maps, validate_map
from rtsynth.errors import InputError


def cc(n, v, ch=0):
    return (0xB0 | ch, n, v)


def test_default_anne_map_knobs_wet_bypass():
    m = CommandMapper(default_map(name=ANNE_MAP_NAME))
    out = m.map_all([cc(29, 0), cc(33, 127), cc(31, 64), cc(34, 0), cc(34, 127), cc(35, 64),
                     cc(35, 63), cc(21, 10), (0x90, 60, 100)])
    assert out[:7] == [("knob", 0, 0.0), ("knob", 4, 1.0), ("knob", 2, 64 / 127), ("wet", 0.0),
                       ("wet", 1.0), ("bypass", True), ("bypass", False)]
    # CANNe's latent CCs mean nothing to the effect map; notes pass through as always
    assert out[7:] == [("note_on", 60, 100)]


def test_merged_map_drives_both_instruments_and_shares_no_cc():
    m = CommandMapper(merge_maps(default_map(), default_map(name=ANNE_MAP_NAME)))
    out = m.map_all([cc(21, 127), cc(28, 0), cc(29, 127), cc(34, 0), cc(64, 127)])
    assert out == [("latent", 0, 1.0), ("latent", 7, 0.0), ("knob", 0, 1.0), ("wet", 0.0),
                   ("sustain", True)]


def test_merging_maps_that_share_a_cc_is_an_error():
    clash = {"format_version": 1, "controls": [{"cc": 21, "param": "wet"}]}
    with pytest.raises(InputError, match=r"expected each CC to be used once, found .* CC 21"):
        merge_maps(default_map(), clash)


@pytest.mark.parametrize("entry,match", [
    ({"cc": 40, "param": "knob", "index": 5}, r"controls\[0\]\.index to be 0..4 \(knobs a-e\), "
                                               r"found controls\[0\]\.index=5"),
    ({"cc": 40, "param": "knob"}, r"expected required key controls\[0\]\.index"),
    ({"cc": 10, "param": "wet", "bits": 14}, r"controls\[0\]\.bits to be 7 for param 'wet'"),
])
def test_bad_effect_entries(entry, match):
    with pytest.raises(InputError, match=match):
        validate_map({"format_version": 1, "controls": [entry]}, source="m.json")
