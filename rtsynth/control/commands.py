"""MIDI channel messages -> synth commands, driven by a CC map (data, not code).

The mapper turns raw channel messages ``(status, data1, data2)`` (as emitted by
:class:`rtsynth.control.midi.MidiParser` or drained from an
:class:`rtsynth.control.events.EventQueue`) into plain command tuples that the
host applies to the engine. The control layer never imports the engine.

Commands
--------
``("note_on", note, velocity)``   note 0..127, velocity 1..127 (raw MIDI)
``("note_off", note)``            also for a note-on with velocity 0 (MIDI 1.0)
``("latent", index, value)``      value in 0..1; the engine maps 0..1 onto the
                                  latent's ``latent_range`` from the manifest
``("pitch_bend", amount)``        -1..1, centre (8192) = 0.0, 0 -> -1.0,
                                  16383 -> +1.0; the engine scales by its bend range
``("sustain", on)``               bool; CC 64 value >= 64 is on
``("all_notes_off",)``            CC 123 (a sustained note keeps sounding until
                                  the pedal lifts, as MIDI 1.0 specifies; the
                                  engine decides)
``("all_sound_off",)``            CC 120: silence now, releases included
``("program", n)``                program change 0..127
``("knob", index, value)``        ANNe knob a..e (index 0..4), value in 0..1; the
                                  effect maps 0..1 linearly onto gains 0.5..5.5
``("wet", value)``                ANNe dry/wet 0..1
``("bypass", on)``                bool; value >= 64 is on

Polyphonic and channel pressure are ignored. Commands carry no channel: the
mapper listens to one channel (1..16) or to all (omni, the default).

14-bit controllers (MIDI 1.0, "Control Change"): a continuous controller
``n`` in 0..31 may be paired with ``n + 32`` carrying its 7 low bits. The
standard receiver behaviour, implemented here: an MSB alone sets the coarse
value and resets the LSB; an LSB that follows refines it to
``(msb << 7 | lsb) / 16383``; an LSB on its own does not move the MSB (it is
ignored until an MSB for that channel and controller has arrived). The coarse
value of an MSB is ``msb / 127``, which equals ``(msb << 7 | msb) / 16383``
(the LSB filled by bit replication, since 16383 = 127 * 129), so a plain
7-bit knob on a 14-bit mapping still spans exactly 0..1; a following LSB moves
the value by less than one 7-bit step.

Which controller moves what is data, a CC map: see :mod:`rtsynth.control.maps`.
"""

from rtsynth.errors import InputError

from .maps import (ANNE_MAP_NAME, DEFAULT_MAP_NAME, PARAMS, SUPPORTED_FORMAT_VERSIONS,
                   default_map, load_map, merge_maps, validate_map)

__all__ = ["CommandMapper", "load_map", "default_map", "validate_map", "merge_maps",
           "DEFAULT_MAP_NAME", "ANNE_MAP_NAME", "PARAMS", "SUPPORTED_FORMAT_VERSIONS",
           "BEND_CENTER"]

BEND_CENTER = 8192

# CC kinds in the 128-entry dispatch table
_NONE, _LATENT7, _MSB, _LSB, _SUSTAIN, _SOUND_OFF, _NOTES_OFF, _TABLE, _BYPASS = range(9)
_SIMPLE_KIND = {"sustain": _SUSTAIN, "all_sound_off": _SOUND_OFF, "all_notes_off": _NOTES_OFF,
                "bypass": _BYPASS}

_OMNI = "omni"
_FROM_MAP = object()

# preallocated constant commands (no tuple is built for these in map())
_NOTE_OFF = tuple(("note_off", n) for n in range(128))
_PROGRAM = tuple(("program", n) for n in range(128))
_SUSTAIN_ON = ("sustain", True)
_SUSTAIN_OFF = ("sustain", False)
_ALL_NOTES_OFF = ("all_notes_off",)
_ALL_SOUND_OFF = ("all_sound_off",)
_BYPASS_ON = ("bypass", True)
_BYPASS_OFF = ("bypass", False)
_WET = tuple(("wet", v / 127.0) for v in range(128))


class CommandMapper:
    """Maps channel messages to command tuples (see the module docstring).

    Parameters
    ----------
    map_dict : dict or None
        A map object (validated here); None loads :func:`default_map`.
    channel : int 1..16, "omni" or None, optional
        Overrides the map's ``channel``; "omni"/None listens to all channels.
    latent_dim : int, optional
        When given, the map's latent indices must be below it.
    source : str
        Names the map in error messages (a file path, say).

    :meth:`map` is meant for the real-time path: it never raises (out-of-range
    bytes are masked to 7 bits, unknown statuses ignored), builds no
    containers, and returns preallocated tuples for notes-off, program
    changes, switches and every 7-bit / coarse latent value; only note-ons,
    pitch bends and 14-bit refinements build a fresh tuple.
    """

    def __init__(self, map_dict=None, *, channel=_FROM_MAP, latent_dim=None, source="CC map"):
        if map_dict is None:
            self.map_data = default_map(latent_dim=latent_dim)
        else:
            self.map_data = validate_map(map_dict, source=source, latent_dim=latent_dim)
        if channel is _FROM_MAP:
            channel = self.map_data["channel"]
        elif channel == _OMNI:
            channel = None
        if channel is not None and (not isinstance(channel, int) or isinstance(channel, bool)
                                    or not 1 <= channel <= 16):
            raise InputError(f"expected channel to be 1..16 or \"omni\", found channel={channel!r}.")
        self.channel = channel
        self._ch = -1 if channel is None else channel - 1

        self._kind = [_NONE] * 128
        self._index = [0] * 128
        self._values = [None] * 128  # cc -> 128 preallocated ("latent", index, v/127) tuples
        for entry in self.map_data["controls"]:
            cc, param = entry["cc"], entry["param"]
            if param == "latent":
                index = entry["index"]
                table = tuple(("latent", index, v / 127.0) for v in range(128))
                self._index[cc] = index
                self._values[cc] = table
                if entry["bits"] == 14:
                    self._kind[cc] = _MSB
                    self._kind[cc + 32] = _LSB
                    self._index[cc + 32] = index
                else:
                    self._kind[cc] = _LATENT7
            elif param == "knob":
                self._kind[cc] = _TABLE
                self._values[cc] = tuple(("knob", entry["index"], v / 127.0) for v in range(128))
            elif param == "wet":
                self._kind[cc] = _TABLE
                self._values[cc] = _WET
            else:
                self._kind[cc] = _SIMPLE_KIND[param]
        self._msb = [-1] * (16 * 32)  # last MSB per (channel, controller 0..31); -1 = none yet

    def reset(self) -> None:
        """Forget remembered 14-bit MSBs (e.g. after a controller reconnects)."""
        msb = self._msb
        for i in range(len(msb)):
            msb[i] = -1

    def map(self, status, d1, d2, out) -> int:
        """Map one channel message; append commands to ``out`` (a list) or call ``out(cmd)``.

        Returns the number of commands produced (0 or 1). Messages for another
        channel, pressure messages and non-channel statuses produce nothing.
        """
        if status < 0x80 or status > 0xEF:
            return 0
        ch = status & 0x0F
        if self._ch >= 0 and ch != self._ch:
            return 0
        d1 &= 0x7F
        d2 &= 0x7F
        kind = status >> 4
        if kind == 0x9:
            cmd = ("note_on", d1, d2) if d2 else _NOTE_OFF[d1]
        elif kind == 0x8:
            cmd = _NOTE_OFF[d1]
        elif kind == 0xB:
            cc_kind = self._kind[d1]
            if cc_kind == _NONE:
                return 0
            if cc_kind == _LATENT7 or cc_kind == _TABLE:
                cmd = self._values[d1][d2]
            elif cc_kind == _MSB:
                self._msb[(ch << 5) | d1] = d2
                cmd = self._values[d1][d2]
            elif cc_kind == _LSB:
                msb = self._msb[(ch << 5) | (d1 - 32)]
                if msb < 0:
                    return 0
                cmd = ("latent", self._index[d1], ((msb << 7) | d2) / 16383.0)
            elif cc_kind == _SUSTAIN:
                cmd = _SUSTAIN_ON if d2 >= 64 else _SUSTAIN_OFF
            elif cc_kind == _SOUND_OFF:
                cmd = _ALL_SOUND_OFF
            elif cc_kind == _BYPASS:
                cmd = _BYPASS_ON if d2 >= 64 else _BYPASS_OFF
            else:
                cmd = _ALL_NOTES_OFF
        elif kind == 0xE:
            v = (d2 << 7) | d1
            v -= BEND_CENTER
            cmd = ("pitch_bend", v / 8192.0 if v < 0 else v / 8191.0)
        elif kind == 0xC:
            cmd = _PROGRAM[d1]
        else:
            return 0
        if type(out) is list:
            out.append(cmd)
        else:
            out(cmd)
        return 1

    def map_all(self, messages) -> list:
        """Convenience (allocates): map an iterable of ``(status, d1, d2)``; return the command list."""
        out = []
        for status, d1, d2 in messages:
            self.map(status, d1, d2, out)
        return out

    @classmethod
    def from_file(cls, path, *, channel=_FROM_MAP, latent_dim=None):
        """Build a mapper from a map JSON file (validated; errors name the file)."""
        return cls(load_map(path, latent_dim=latent_dim), channel=channel, latent_dim=latent_dim,
                   source=str(path))
