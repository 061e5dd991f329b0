"""rtsynth.control: MIDI parsing, event queues, CC -> command mapping (no audio I/O).

Layer rule: imports only rtsynth.errors, numpy and the standard library; it
never imports rtsynth.engine or rtsynth.host. It produces plain command tuples
that the host applies to the engine.
"""

from .commands import CommandMapper
from .events import EventQueue
from .maps import ANNE_MAP_NAME, default_map, instrument_map, load_map, merge_maps, validate_map
from .midi import MidiParser, parse_message

__all__ = ["EventQueue", "MidiParser", "parse_message", "CommandMapper", "default_map",
           "load_map", "validate_map", "merge_maps", "instrument_map", "ANNE_MAP_NAME"]
