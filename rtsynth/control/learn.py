"""MIDI learn: arm a parameter, move a control, and the mapping gains that entry.

Used by ``rtsynth learn`` and by the live view: :meth:`MidiLearn.arm` a
parameter name, :meth:`MidiLearn.feed` every incoming channel message (from
the control thread, e.g. drained from a mapper's monitor queue); the first CC,
pitch bend or aftertouch (or note, with ``notes=True``) is captured, replacing
any entry for the same parameter and any entry that used that source, and
:meth:`MidiLearn.save` writes the mapping atomically (temporary file, rename),
keeping every other entry.
"""

from pathlib import Path

from rtsynth.errors import InputError

from .mapping import FORMAT_VERSION, Mapping, load_mapping, mapping_to_dict, validate_mapping
from .params import find_spec, param_specs
from .tomlfile import write_toml

__all__ = ["MidiLearn"]


class MidiLearn:
    """Capture the next control that moves into a mapping entry for the armed parameter.

    Parameters
    ----------
    mapping : Mapping, optional
        Entries to keep (default: none).
    specs : list of ParamSpec, optional
        Parameters that may be learned (default: CANNe's and ANNe's).
    notes : bool
        Also capture a note-on (then the note no longer plays).
    channel : bool
        Record the message's channel (default: the entry listens on every channel).
    bits : {7, 14}
        14: a CC 0..31 is learned as a 14-bit pair (LSB cc + 32).
    """

    def __init__(self, mapping=None, specs=None, *, notes=False, channel=False, bits=7):
        self.specs = list(specs) if specs is not None else (param_specs("canne")
                                                             + param_specs("anne"))
        self.mapping = mapping or Mapping((), "learned")
        self.notes, self.channel, self.bits = notes, channel, bits
        self.armed = None

    @classmethod
    def from_file(cls, path, specs=None, **options):
        """Start from the mapping in ``path`` (an empty one when the file does not exist yet)."""
        specs = list(specs) if specs is not None else param_specs("canne") + param_specs("anne")
        path = Path(path)
        mapping = load_mapping(path, specs) if path.exists() else Mapping((), path.stem,
                                                                          source=str(path))
        return cls(mapping, specs, **options)

    def arm(self, param):
        """Wait for a control for ``param`` (InputError naming the choices when unknown)."""
        find_spec(self.specs, param, "learn")
        self.armed = param

    def disarm(self):
        self.armed = None

    def feed(self, status, d1, d2):
        """Offer one channel message; return the new :class:`Entry` when it was captured, else None."""
        if self.armed is None or not 0x80 <= status <= 0xEF:
            return None
        kind = status >> 4
        if kind == 0xB:
            source = {"cc": d1 - 32 if self.bits == 14 and 32 <= d1 < 64 else d1}
            if self.bits == 14 and source["cc"] < 32:
                source["bits"] = 14
        elif kind == 0xE:
            source = {"bend": True}
        elif kind == 0xD:
            source = {"aftertouch": True}
        elif kind == 0x9 and d2 and self.notes:
            source = {"note": d1, "note_mode": "toggle"}
        else:
            return None
        item = {"param": self.armed, **source}
        if self.channel:
            item["channel"] = (status & 0x0F) + 1
        self.mapping = self._with(item)
        self.armed = None
        return self.mapping.entries[-1]

    def save(self, path):
        """Write the mapping to ``path`` atomically; return the path."""
        return write_toml(path, mapping_to_dict(self.mapping))

    def _with(self, item):
        """The mapping with ``item`` added and whatever it replaces removed (validated)."""
        new = validate_mapping({"format_version": FORMAT_VERSION, "map": [item]}, self.specs,
                               source="learn").entries[0]
        keep = [e.raw for e in self.mapping.entries
                if e.param != new.param and not _same_source(e, new)]
        data = mapping_to_dict(self.mapping)
        data["map"] = keep + [item]
        try:
            return validate_mapping(data, self.specs, source=self.mapping.source)
        except InputError as e:  # a 14-bit pair overlapping another entry's LSB, say
            raise InputError(f"learn {item['param']}: {e}") from None


def _same_source(a, b):
    if a.source != b.source:
        return False
    numbers = {a.number, a.number + 32} if a.bits == 14 else {a.number}
    other = {b.number, b.number + 32} if b.bits == 14 else {b.number}
    if a.source in ("cc", "note") and not numbers & other:
        return False
    return a.channel is None or b.channel is None or a.channel == b.channel
