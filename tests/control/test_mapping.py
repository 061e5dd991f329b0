"""Mapping files: TOML parsing, validation errors naming file, line and key, overlaps."""

import pytest

from rtsynth.control import CommandMapper, load_mapping
from rtsynth.control.params import param_specs
from rtsynth.errors import InputError

GOOD = '''format_version = 2
name = "mine"
channel = "omni"

[[map]]
param = "latent.0"
cc = 21
bits = 14
range = [0.2, 0.8]
curve = "exp"
smooth = 0.05

[[map]]
param = "wet"
aftertouch = true

[[map]]
param = "volume"
bend = true
channel = 2

[[map]]
param = "bypass"
note = 36
note_mode = "toggle"
'''


def write(tmp_path, text, name="map.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_file_loads_with_every_source_and_option(tmp_path):
    m = load_mapping(write(tmp_path, GOOD))
    e = m.entries[0]
    assert (e.param, e.source, e.number, e.bits, e.lo, e.hi, e.curve, e.smooth, e.line) == (
        "latent.0", "cc", 21, 14, 0.2, 0.8, "exp", 0.05, 7)
    assert [(x.source, x.channel) for x in m.entries[1:]] == [("aftertouch", None), ("bend", 2),
                                                               ("note", None)]
    assert m.entries[3].note_mode == "toggle" and m.name == "mine"
    # defaults come from the parameter: volume's own curve and range
    assert (m.entries[2].lo, m.entries[2].hi, m.entries[2].curve) == (0.0, 2.0, "exp")


def test_bad_toml_names_file_line_and_column(tmp_path):
    path = write(tmp_path, 'format_version = 2\n[[map]]\nparam = "wet"\ncc = = 3\n')
    with pytest.raises(InputError, match=r"map\.toml: expected valid TOML, found .*line 4"):
        load_mapping(path)
    with pytest.raises(InputError, match=r"nope\.toml: expected a mapping file \(TOML\), found no such file"):
        load_mapping(tmp_path / "nope.toml")


@pytest.mark.parametrize("entry, match", [
    ('param = "latent.9"\ncc = 3',
     r"map\.toml:3: expected map\[0\]\.param to be a parameter \(latent\.N, attack, .*\) or an action "
     r"\(sustain_pedal, .*\), found map\[0\]\.param='latent\.9'"),
    ('param = "colour"\ncc = 3', r"map\.toml:3: .*found map\[0\]\.param='colour'"),
    ('param = "wet"\ncc = 128', r"map\.toml:4: expected map\[0\]\.cc to be an integer 0\.\.127, "
                                r"found map\[0\]\.cc=128"),
    ('param = "wet"\ncc = -1', r"map\.toml:4: .*found map\[0\]\.cc=-1"),
    ('param = "wet"\nnote = 200', r"map\.toml:4: expected map\[0\]\.note to be an integer 0\.\.127"),
    ('param = "wet"\ncc = 40\nbits = 14', r"map\.toml:4: expected map\[0\]\.cc to be 0\.\.31 for a 14-bit cc"),
    ('param = "wet"\ncc = 4\nbits = 12', r"map\.toml:5: expected map\[0\]\.bits to be 7 or 14"),
    ('param = "wet"\ncc = 4\ncurve = "cubic"', r"map\.toml:5: expected map\[0\]\.curve to be lin or log or exp"),
    ('param = "wet"\ncc = 4\nsmooth = -1', r"map\.toml:5: expected map\[0\]\.smooth to be seconds 0\.\.10"),
    ('param = "wet"\ncc = 4\nrange = [0, 2]',
     r"map\.toml:5: expected map\[0\]\.range to be \[low, high\] within 0\.\.1, found map\[0\]\.range=\[0, 2\]"),
    ('param = "wet"\ncc = 4\nchannel = 17', r"map\.toml:5: expected map\[0\]\.channel to be \"omni\" or 1\.\.16"),
    ('param = "wet"', r"map\.toml:2: expected map\[0\]\.cc to be exactly one source"),
    ('param = "wet"\ncc = 4\nbend = true', r"expected map\[0\]\.bend to be exactly one source"),
    ('param = "wet"\nbend = false', r"map\.toml:4: expected map\[0\]\.bend to be true"),
    ('param = "wet"\ncc = 4\ncolour = 1', r"map\.toml:5: expected map\[0\]\.colour to be absent"),
    ('param = "sustain_pedal"\nbend = true',
     r"map\.toml:4: expected map\[0\]\.bend to be absent: action 'sustain_pedal' takes cc"),
    ('param = "wet"\ncc = 4\nnote_mode = "gate"', r"map\[0\]\.note_mode to be velocity or gate or toggle \(for a note only\)"),
])
def test_bad_entries_name_file_line_and_key(tmp_path, entry, match):
    path = write(tmp_path, f"format_version = 2\n[[map]]\n{entry}\n")
    with pytest.raises(InputError, match=match):
        load_mapping(path)


def test_bad_top_level_keys(tmp_path):
    with pytest.raises(InputError, match=r"map\.toml:1: expected format_version to be 2, found format_version=1"):
        load_mapping(write(tmp_path, "format_version = 1\n"))
    with pytest.raises(InputError, match=r"map\.toml:2: expected channel to be \"omni\" or 1\.\.16, found channel=0"):
        load_mapping(write(tmp_path, "format_version = 2\nchannel = 0\n"))
    with pytest.raises(InputError, match=r"map\.toml:1: expected colour to be absent"):
        load_mapping(write(tmp_path, "colour = 2\n"))


@pytest.mark.parametrize("entries, match", [
    ('[[map]]\nparam = "wet"\ncc = 4\n[[map]]\nparam = "volume"\ncc = 4\n',
     r"map\.toml:7: expected each source to be mapped once per channel, found map\[1\] \(volume\) "
     r"using cc 4 on channel 1, already used by map\[0\] \(wet, line 4\)"),
    ('[[map]]\nparam = "latent.0"\ncc = 1\nbits = 14\n[[map]]\nparam = "wet"\ncc = 33\n',
     r"found map\[1\] \(wet\) using cc 33 on channel 1, already used by map\[0\] \(latent\.0"),
    ('[[map]]\nparam = "wet"\ncc = 4\nchannel = 3\n[[map]]\nparam = "volume"\ncc = 4\n',
     r"using cc 4 on channel 3, already used by map\[0\]"),
    ('[[map]]\nparam = "wet"\nbend = true\n[[map]]\nparam = "pitch_bend"\nbend = true\n',
     r"found map\[1\] \(pitch_bend\) using bend on channel 1"),
])
def test_overlapping_mappings(tmp_path, entries, match):
    with pytest.raises(InputError, match=match):
        load_mapping(write(tmp_path, "format_version = 2\n" + entries))


def test_same_cc_on_different_channels_is_fine(tmp_path):
    text = ("[[map]]\nparam = \"wet\"\ncc = 4\nchannel = 1\n"
            "[[map]]\nparam = \"volume\"\ncc = 4\nchannel = 2\n")
    mapper = CommandMapper(load_mapping(write(tmp_path, text)))
    assert mapper.map_all([(0xB0, 4, 127), (0xB1, 4, 127)]) == [("wet", 1.0), ("volume", 2.0)]


def test_latent_ranges_come_from_the_model(tmp_path):
    class Manifest:
        latent_range = [[0.0, 10.0], [-1.0, 1.0]]
        presets = {}
    specs = param_specs("canne", Manifest())
    path = write(tmp_path, '[[map]]\nparam = "latent.0"\ncc = 1\nrange = [2.0, 12.0]\n')
    with pytest.raises(InputError, match=r"map\.toml:4: .*range to be \[low, high\] within 0\.\.10"):
        load_mapping(path, specs)
    path.write_text('[[map]]\nparam = "latent.0"\ncc = 1\nrange = [2.0, 4.0]\n')
    mapper = CommandMapper(load_mapping(path, specs), specs)
    # 2..4 latent units of 0..10 -> 0.2..0.4 of the range
    assert mapper.map_all([(0xB0, 1, 0), (0xB0, 1, 127)]) == [("latent", 0, 0.2), ("latent", 0, 0.4)]
