"""rtsynth.control: MIDI parsing, queues, parameters, mappings, glides, presets (no audio I/O).

Layer rule: imports only rtsynth.errors, numpy and the standard library; it
never imports rtsynth.engine or rtsynth.host. It produces plain command tuples
that the host applies to the engine.
"""

from .automation import Automation
from .commands import CommandMapper
from .events import EventQueue
from .inbox import CommandQueue
from .mapping import (Mapping, default_mapping, instrument_mapping, load_mapping, merge_mappings,
                      validate_mapping)
from .midi import MidiParser, parse_message
from .params import ParamSpec, param_specs, to_command

__all__ = ["EventQueue", "CommandQueue", "MidiParser", "parse_message", "CommandMapper",
           "Automation", "Mapping", "load_mapping", "validate_mapping", "default_mapping",
           "instrument_mapping", "merge_mappings", "ParamSpec", "param_specs", "to_command"]
