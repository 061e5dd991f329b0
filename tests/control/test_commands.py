"""CommandMapper: the default CANNe mapping, 14-bit pairs, switches, bend, notes, pressure."""

import ast
from pathlib import Path

import pytest

import rtsynth.control
from rtsynth.control.commands import CommandMapper
from rtsynth.control.mapping import default_mapping, validate_mapping
from rtsynth.control.midi import MidiParser
from rtsynth.errors import InputError


@pytest.fixture
def mapper():
    return CommandMapper()  # the packaged default map, omni


def cmds(mapper, *messages):
    return mapper.map_all(messages)


def test_default_map_file_loads_and_is_canne_layout():
    m = default_mapping("canne")
    assert m.channel is None and m.source.endswith("canne_default_map.toml")
    latents = {e.number: (e.param, e.bits) for e in m.entries if e.param.startswith("latent")}
    assert latents == {21 + i: (f"latent.{i}", 14) for i in range(8)}
    params = {e.number: e.param for e in m.entries}
    assert params[64] == "sustain_pedal" and params[120] == "all_sound_off" and params[123] == "all_notes_off"


def test_mapping_for_a_smaller_model_names_the_missing_latent():
    from rtsynth.control.params import ParamSpec

    specs = [ParamSpec(f"latent.{i}", 0.0, 1.0, 0.5, command="latent", index=i) for i in range(4)]
    with pytest.raises(InputError, match=r"canne_default_map\.toml:\d+: expected map\[4\]\.param "
                                         r"to be a parameter .*found map\[4\]\.param='latent\.4'"):
        default_mapping("canne", specs)


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
    m = {"map": [{"cc": 1, "param": "latent.0"}, {"cc": 33, "param": "latent.1"}]}
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
    m = {"channel": 3, "map": [{"cc": 21, "param": "latent.0"}]}
    mapper = CommandMapper(m, channel=3)
    assert mapper.channel == 3
    assert cmds(mapper, (0x90, 60, 100), (0x92, 61, 100), (0xB2, 21, 127), (0xB0, 21, 1)) == [
        ("note_on", 61, 100), ("latent", 0, 1.0)]
    # the file's channel alone: its entries listen there, notes play on every channel
    assert cmds(CommandMapper(m), (0xB0, 21, 127), (0xB2, 21, 127)) == [("latent", 0, 1.0)]
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


def test_bend_aftertouch_and_notes_can_move_parameters():
    m = {"map": [{"param": "wet", "aftertouch": True},
                 {"param": "volume", "bend": True, "curve": "lin"},
                 {"param": "bypass", "note": 36, "note_mode": "toggle"},
                 {"param": "sustain_pedal", "cc": 64},
                 {"param": "latent.1", "note": 37, "note_mode": "gate"},
                 {"param": "knob.a", "note": 38}]}
    mapper = CommandMapper(m)
    assert cmds(mapper, (0xD0, 127, 0), (0xD0, 0, 0)) == [("wet", 1.0), ("wet", 0.0)]
    assert cmds(mapper, (0xE0, 127, 127), (0xE0, 0, 0)) == [("volume", 2.0), ("volume", 0.0)]
    # a mapped note toggles and no longer plays; the others still do
    assert cmds(mapper, (0x90, 36, 100), (0x80, 36, 0), (0x90, 36, 5), (0x90, 60, 9)) == [
        ("bypass", True), ("bypass", False), ("note_on", 60, 9)]
    assert cmds(mapper, (0x90, 37, 10), (0x80, 37, 0)) == [("latent", 1, 1.0), ("latent", 1, 0.0)]
    assert cmds(mapper, (0x90, 38, 127))[0] == ("knob", 0, 1.0)  # velocity -> position


def test_a_smoothed_entry_asks_for_a_glide():
    mapper = CommandMapper({"map": [{"param": "attack", "cc": 5, "smooth": 0.05,
                                     "curve": "lin", "range": [0.0, 2.0]}]})
    assert cmds(mapper, (0xB0, 5, 127)) == [("set", "attack", 2.0, 0.05)]


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
