"""MIDI learn: the next control moving is captured and written to a mapping file that loads back."""

import pytest

from rtsynth.control import CommandMapper, default_mapping, load_mapping
from rtsynth.control.learn import MidiLearn
from rtsynth.errors import InputError


def test_learn_writes_a_valid_file_that_loads_back_keeping_other_entries(tmp_path):
    path = tmp_path / "mine.toml"
    learn = MidiLearn(default_mapping("canne"))
    learn.arm("attack")
    assert learn.feed(0x90, 60, 100) is None       # a note is not a control (notes=False)
    entry = learn.feed(0xB0, 70, 12)
    assert (entry.param, entry.source, entry.number) == ("attack", "cc", 70)
    assert learn.armed is None and learn.feed(0xB0, 71, 1) is None  # captured once
    learn.arm("volume")
    learn.feed(0xE0, 0, 64)                        # pitch bend
    learn.arm("latent.3")
    learn.feed(0xB0, 22, 5)                        # steals CC 22 (and its LSB) from latent.1
    learn.save(path)
    assert not list(tmp_path.glob(".*.tmp"))       # the temporary file was renamed
    m = load_mapping(path)
    by_param = {e.param: e for e in m.entries}
    assert "latent.1" not in by_param and by_param["latent.3"].number == 22
    assert by_param["latent.0"].bits == 14 and by_param["sustain_pedal"].number == 64
    assert by_param["volume"].source == "bend" and by_param["attack"].line > 0
    mapper = CommandMapper(m)
    assert mapper.map_all([(0xB0, 70, 127), (0xB0, 22, 0)]) == [("adsr", 0, 10.0),
                                                                 ("latent", 3, 0.0)]


def test_learn_from_a_missing_file_channel_and_14_bit(tmp_path):
    path = tmp_path / "new.toml"
    learn = MidiLearn.from_file(path, channel=True, bits=14)
    learn.arm("wet")
    learn.feed(0xB2, 40, 3)                        # an LSB first: learned as its MSB's pair
    learn.arm("knob.a")
    learn.feed(0xD2, 90, 0)                        # aftertouch
    learn.save(path)
    m = load_mapping(path)
    assert [(e.param, e.source, e.number, e.bits, e.channel) for e in m.entries] == [
        ("wet", "cc", 8, 14, 3), ("knob.a", "aftertouch", 0, 7, 3)]


def test_arming_an_unknown_parameter_names_the_choices():
    with pytest.raises(InputError, match=r"learn: expected a parameter name among latent\.\*.*"
                                         r"found 'lattent\.0'"):
        MidiLearn().arm("lattent.0")
