"""CommandMapper and CC map files: default CANNe map, 14-bit pairs, switches, bend, validation."""

import ast
import json
from pathlib import Path

import pytest

import rtsynth.control
from rtsynth.control.commands import CommandMapper, default_map, load_map, validate_map
from rtsynth.control.midi import MidiParser
from rtsynth.errors import InputError


@pytest.fixture
def mapper():
    return CommandMapper()  # the packaged default map, omni


def cmds(mapper, *messages):
    return mapper.map_all(messages)


def test_default_map_file_loads_and_is_canne_layout():
    m = default_map()
    assert m["channel"] is None and m["format_version"] == 1
    latents = {c["cc"]: (c["index"], c["bits"]) for c in m["controls"] if c["param"] == "latent"}
    assert latents == {21 + i: (i, 14) for i in range(8)}
    params = {c["cc"]: c["param"] for c in m["controls"]}
    assert params[64] == "sustain" and params[120] == "all_sound_off" and params[123] == "all_notes_off"
    default_map(latent_dim=8)  # fits CANNe's 8 latents
    with pytest.raises(InputError, match="latent_dim 4"):
        default_map(latent_dim=4)


def test_cc_21_to_28_move_latents_0_to_7(mapper):
    for i in range(8):
        assert cmds(mapper, (0xB0, 21 + i, 0)) == [("latent", i, 0.0)]
        assert cmds(mapper, (0xB0, 21 + i, 127)) == [("latent", i, 1.0)]
        assert cmds(mapper, (0xB0, 21 + i, 64)) == [("latent", i, pytest.approx(64 / 127))]
    assert cmds(mapper, (0xB0, 29, 64), (0xB0, 20, 64), (0xB0, 1, 3)) == []  # unmapped


def test_14bit_pairs_msb_coarse_then_lsb_refines(mapper):
    # MSB alone: coarse value (a 7-bit knob still spans 0..1)
    assert cmds(mapper, (0xB0, 21, 127)) == [("latent", 0, 1.0)]
    # LSB after its MSB: (msb << 7 | lsb) / 16383
    assert cmds(mapper, (0xB0, 21, 64), (0xB0, 53, 0)) == [
        ("latent", 0, pytest.approx(64 / 127)), ("latent", 0, pytest.approx(8192 / 16383))]
    # further LSBs refine against the same MSB
    assert cmds(mapper, (0xB0, 53, 127)) == [("latent", 0, pytest.approx(8319 / 16383))]
    assert cmds(mapper, (0xB0, 28, 127), (0xB0, 60, 127)) == [("latent", 7, 1.0), ("latent", 7, 1.0)]
    assert cmds(mapper, (0xB0, 28, 0), (0xB0, 60, 0)) == [("latent", 7, 0.0), ("latent", 7, 0.0)]
    # every 14-bit value is reachable and monotone in (msb, lsb)
    values = [cmds(mapper, (0xB0, 22, msb), (0xB0, 54, lsb))[1][2]
              for msb in range(0, 128, 9) for lsb in range(0, 128, 13)]
    assert values == sorted(values) and all(0.0 <= v <= 1.0 for v in values)


def test_14bit_lsb_without_msb_is_ignored_and_msb_is_per_channel():
    mapper = CommandMapper()
    assert cmds(mapper, (0xB0, 53, 10)) == []  # no MSB seen yet
    cmds(mapper, (0xB0, 21, 100))
    assert cmds(mapper, (0xB3, 53, 10)) == []  # an MSB on channel 1 says nothing for channel 4
    assert cmds(mapper, (0xB0, 53, 10)) == [("latent", 0, pytest.approx((100 * 128 + 10) / 16383))]
    mapper.reset()
    assert cmds(mapper, (0xB0, 53, 10)) == []


def test_7bit_latent_leaves_lsb_cc_free():
    m = {"format_version": 1, "controls": [{"cc": 1, "param": "latent", "index": 0},
                                           {"cc": 33, "param": "latent", "index": 1}]}
    mapper = CommandMapper(m)
    assert cmds(mapper, (0xB0, 1, 127), (0xB0, 33, 0)) == [("latent", 0, 1.0), ("latent", 1, 0.0)]


def test_notes_and_note_on_velocity_zero(mapper):
    assert cmds(mapper, (0x90, 60, 100), (0x90, 60, 0), (0x80, 61, 64), (0x9F, 127, 1)) == [
        ("note_on", 60, 100), ("note_off", 60), ("note_off", 61), ("note_on", 127, 1)]


def test_sustain_threshold(mapper):
    assert cmds(mapper, *[(0xB0, 64, v) for v in (0, 63, 64, 127)]) == [
        ("sustain", False), ("sustain", False), ("sustain", True), ("sustain", True)]


def test_all_notes_off_and_all_sound_off(mapper):
    assert cmds(mapper, (0xB0, 123, 0), (0xB5, 120, 0)) == [("all_notes_off",), ("all_sound_off",)]


def test_pitch_bend_14bit_to_minus1_plus1(mapper):
    assert cmds(mapper, (0xE0, 0, 64)) == [("pitch_bend", 0.0)]          # 8192 = centre
    assert cmds(mapper, (0xE0, 0, 0)) == [("pitch_bend", -1.0)]
    assert cmds(mapper, (0xE0, 127, 127)) == [("pitch_bend", 1.0)]
    assert cmds(mapper, (0xE0, 0, 32)) == [("pitch_bend", -0.5)]         # 4096
    assert cmds(mapper, (0xE0, 1, 64))[0][1] == pytest.approx(1 / 8191)  # LSB first on the wire


def test_program_change_and_ignored_messages(mapper):
    assert cmds(mapper, (0xC0, 5, 0)) == [("program", 5)]
    assert cmds(mapper, (0xA0, 60, 10), (0xD0, 10, 0), (0xF8, 0, 0), (0x3C, 1, 2)) == []


def test_channel_filter():
    m = dict(default_map(), channel=3)
    mapper = CommandMapper(m)
    assert mapper.channel == 3
    assert cmds(mapper, (0x90, 60, 100), (0x92, 61, 100), (0xB2, 21, 127)) == [
        ("note_on", 61, 100), ("latent", 0, 1.0)]
    assert CommandMapper(m, channel="omni").channel is None
    assert cmds(CommandMapper(channel=16), (0x9F, 1, 1), (0x90, 2, 2)) == [("note_on", 1, 1)]
    with pytest.raises(InputError, match="channel=0"):
        CommandMapper(channel=0)


def test_map_to_callback_and_out_of_range_bytes_do_not_raise(mapper):
    got = []
    assert mapper.map(0x90, 60, 100, got.append) == 1
    assert mapper.map(0xB0, 200, 300, got.append) in (0, 1)  # masked to 7 bits, never raises
    assert got[0] == ("note_on", 60, 100)


def test_parser_to_mapper_end_to_end(mapper):
    out = []
    MidiParser().feed(bytes([0xB0, 21, 64, 53, 0, 0xF8, 64, 127, 0x90, 60, 100, 60, 0]),
                      lambda _o, s, a, b: mapper.map(s, a, b, out))
    assert out == [("latent", 0, pytest.approx(64 / 127)), ("latent", 0, pytest.approx(8192 / 16383)),
                   ("sustain", True), ("note_on", 60, 100), ("note_off", 60)]


# ----------------------------------------------------------------- bad map files
def write(tmp_path, obj, name="map.json"):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def good(**extra):
    return {"format_version": 1, "controls": [{"cc": 21, "param": "latent", "index": 0, "bits": 14}],
            **extra}


def with_control(**entry):
    return {"format_version": 1, "controls": [entry]}


@pytest.mark.parametrize("content, match", [
    ("{not json", r"map\.json: expected valid JSON, found .* line 1"),
    ([1, 2], r"map\.json: expected the top level to be a JSON object, found the top level='list'"),
    ({"controls": []}, r"map\.json: expected required key 'format_version'"),
    (good(format_version=2), r"map\.json: expected format_version to be one of \(1,\), found format_version=2"),
    (good(colour="red"), r"map\.json: .* found unknown key 'colour'"),
    (good(channel=17), r"map\.json: expected channel to be \"omni\" or an integer 1\.\.16, found channel=17"),
    ({"format_version": 1, "controls": {}}, r"expected controls to be a list"),
    (with_control(cc=21, param="volume"),
     r"map\.json: expected controls\[0\]\.param to be one of latent, sustain, .*found controls\[0\]\.param='volume'"),
    (with_control(cc=128, param="sustain"),
     r"map\.json: expected controls\[0\]\.cc to be an integer 0\.\.127, found controls\[0\]\.cc=128"),
    (with_control(cc=-1, param="sustain"), r"controls\[0\]\.cc=-1"),
    (with_control(cc=True, param="sustain"), r"controls\[0\]\.cc=True"),
    (with_control(cc=21, param="latent"), r"expected required key controls\[0\]\.index for param 'latent'"),
    (with_control(cc=21, param="latent", index=-2), r"controls\[0\]\.index=-2"),
    (with_control(cc=21, param="latent", index=0, bits=8), r"controls\[0\]\.bits to be 7 or 14.*bits=8"),
    (with_control(cc=40, param="latent", index=0, bits=14),
     r"expected controls\[0\]\.cc to be an integer 0\.\.31 for a 14-bit control.*cc=40"),
    (with_control(cc=64, param="sustain", bits=14), r"controls\[0\]\.bits to be 7 for param 'sustain'"),
    (with_control(cc=64, param="sustain", index=1), r"found unknown key 'index'"),
    (with_control(param="sustain"), r"expected required key controls\[0\]\.cc"),
])
def test_bad_map_files_raise_input_error_naming_file_and_key(tmp_path, content, match):
    path = write(tmp_path, content)
    with pytest.raises(InputError, match=match):
        load_map(path)
    with pytest.raises(InputError, match=match):
        CommandMapper.from_file(path)


@pytest.mark.parametrize("controls, match", [
    ([{"cc": 21, "param": "latent", "index": 0}, {"cc": 21, "param": "sustain"}],
     r"map\.json: expected each CC to be used once, found controls\[1\] using CC 21 already used by controls\[0\]"),
    ([{"cc": 21, "param": "latent", "index": 0, "bits": 14}, {"cc": 53, "param": "latent", "index": 1}],
     r"found controls\[1\] using CC 53 already used by controls\[0\] \(the LSB CC 53 of its 14-bit CC 21\)"),
    ([{"cc": 53, "param": "sustain"}, {"cc": 21, "param": "latent", "index": 0, "bits": 14}],
     r"found controls\[1\] \(the LSB CC 53 of its 14-bit CC 21\) using CC 53 already used by controls\[0\]"),
])
def test_duplicate_cc_including_14bit_lsb(tmp_path, controls, match):
    path = write(tmp_path, {"format_version": 1, "controls": controls})
    with pytest.raises(InputError, match=match):
        load_map(path)


def test_missing_file_and_dict_source(tmp_path):
    with pytest.raises(InputError, match=r"nope\.json: expected a CC map JSON file, found no such file"):
        load_map(tmp_path / "nope.json")
    with pytest.raises(InputError, match=r"^my map: expected controls\[0\]\.cc"):
        CommandMapper(with_control(cc=300, param="sustain"), source="my map")


def test_validate_map_normalises_without_mutating_input():
    m = good(channel="omni")
    out = validate_map(m)
    assert out["channel"] is None and out["controls"][0]["bits"] == 14
    m2 = with_control(cc=3, param="latent", index=2)
    assert validate_map(m2)["controls"][0]["bits"] == 7 and "bits" not in m2["controls"][0]


def test_control_layer_imports_no_engine_or_host():
    """Layer rule: rtsynth.control imports only rtsynth.errors/dsp, numpy and the standard library."""
    folder = Path(rtsynth.control.__file__).parent
    for py in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            for name in names:
                if name.startswith("rtsynth"):
                    assert name.split(".")[:2] in (["rtsynth", "errors"], ["rtsynth", "dsp"],
                                                   ["rtsynth", "control"]), (py.name, name)
