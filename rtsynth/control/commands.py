"""MIDI channel messages -> commands, driven by a mapping (data, not code).

The mapper turns raw channel messages ``(status, data1, data2)`` into plain
command tuples; the control layer never imports the engine.

Commands
--------
``("note_on", note, velocity)``   note 0..127, velocity 1..127 (raw MIDI)
``("note_off", note)``            also for a note-on with velocity 0 (MIDI 1.0)
``("pitch_bend", amount)``        -1..1, centre (8192) = 0.0, 0 -> -1.0, 16383 -> +1.0
``("sustain", on)``               bool; CC value >= 64 is on
``("all_notes_off",)``            ``("all_sound_off",)``
``("program", n)``                program change 0..127 (recalls preset n)
parameter commands                a mapped parameter with no glide: the engine
                                  command of :func:`~rtsynth.control.params.to_command`
                                  (``("latent", i, u)``, ``("knob", i, u)``, ...)
``("set", name, value, smooth)``  a mapped parameter with a glide: ``value`` in
                                  its units, reached over ``smooth`` seconds; the
                                  :class:`~rtsynth.control.automation.Automation`
                                  turns it into engine commands

Control positions: a 7-bit source gives ``v / 127``; a 14-bit pair gives
``(msb << 7 | lsb) / 16383`` (MIDI 1.0: an MSB alone sets the coarse value
``msb / 127`` and resets the LSB; an LSB with no MSB yet is ignored); pitch
bend ``value / 16383``; aftertouch (channel pressure) ``pressure / 127``. The
entry's curve maps the position onto its range. Polyphonic pressure is ignored.
"""

from rtsynth.errors import InputError

from .mapping import Mapping, default_mapping, load_mapping, validate_mapping
from .params import from_unit, param_specs, to_command

__all__ = ["CommandMapper", "BEND_CENTER"]

BEND_CENTER = 8192
_OMNI = "omni"
_FROM_MAP = object()
# kinds of compiled entries
_PARAM, _MSB, _LSB, _SUSTAIN, _SOUND_OFF, _NOTES_OFF, _BEND = range(7)
_ACTION_KIND = {"sustain_pedal": _SUSTAIN, "all_sound_off": _SOUND_OFF, "all_notes_off": _NOTES_OFF,
                "pitch_bend": _BEND}

# preallocated constant commands (no tuple is built for these in map())
_NOTE_OFF = tuple(("note_off", n) for n in range(128))
_PROGRAM = tuple(("program", n) for n in range(128))
_PEDAL = (("sustain", False), ("sustain", True))
_ALL_NOTES_OFF = ("all_notes_off",)
_ALL_SOUND_OFF = ("all_sound_off",)


class CommandMapper:
    """Maps channel messages to command tuples (see the module docstring).

    Parameters
    ----------
    mapping : Mapping, dict or None
        A validated :class:`~rtsynth.control.mapping.Mapping`, a parsed TOML
        dict (validated here), or None for the packaged CANNe default.
    specs : list of ParamSpec, optional
        The parameters ``"set"`` slots index (default: CANNe's and ANNe's
        without a manifest). The automation must use the same list.
    channel : int 1..16, "omni" or None, optional
        Listen to this channel only, whatever the mapping says.
    source : str
        Names a dict mapping in error messages.

    Attributes
    ----------
    monitor : rtsynth.control.EventQueue or None
        When set, every channel message is also pushed there (MIDI learn, a
        live view's activity light); a full monitor drops, never blocks.
    automation : rtsynth.control.Automation or None
        The automation (same ``specs``) a host runs this mapper's output
        through; set by the session, read by the host.

    :meth:`map` is meant for the real-time path: it never raises, builds no
    containers, and returns preallocated tuples for notes-off, program
    changes, switches and every 7-bit value; only note-ons, pitch bends,
    14-bit refinements and pitch-bend parameters build a fresh tuple.
    """

    def __init__(self, mapping=None, specs=None, *, channel=_FROM_MAP, source="mapping"):
        self.specs = list(specs) if specs is not None else (param_specs("canne")
                                                             + param_specs("anne"))
        if mapping is None:
            mapping = default_mapping("canne", self.specs)
        elif not isinstance(mapping, Mapping):
            mapping = validate_mapping(mapping, self.specs, source=source)
        self.mapping = mapping
        if channel is _FROM_MAP or channel == _OMNI or channel is None:
            channel = None
        elif isinstance(channel, bool) or not isinstance(channel, int) or not 1 <= channel <= 16:
            raise InputError(f"expected channel to be 1..16 or \"omni\", found channel={channel!r}.")
        self.channel = channel
        self._ch = -1 if channel is None else channel - 1
        self.monitor = None
        self.automation = None
        by_name = {s.name: s for s in self.specs}
        self._entries = []
        self._cc = [-1] * (16 * 128)
        self._note = [-1] * (16 * 128)
        self._bend = [-1] * 16
        self._touch = [-1] * 16
        for e in mapping.entries:
            if not e.is_action and e.param not in by_name:
                raise InputError(f"{mapping.source}:{e.line}: expected param to be one of this "
                                 f"instrument's parameters, found param={e.param!r}.")
            self._compile(e, by_name.get(e.param))
        self._msb = [-1] * (16 * 32)  # last MSB per (channel, controller 0..31); -1 = none yet
        self._toggled = [False] * len(self._entries)

    @classmethod
    def from_file(cls, path, specs=None, *, channel=_FROM_MAP):
        """A mapper for a mapping TOML file (validated; errors name the file and line)."""
        specs = list(specs) if specs is not None else param_specs("canne") + param_specs("anne")
        return cls(load_mapping(path, specs), specs, channel=channel)

    def reset(self) -> None:
        """Forget remembered 14-bit MSBs and note toggles (e.g. after a controller reconnects)."""
        for i in range(len(self._msb)):
            self._msb[i] = -1
        for i in range(len(self._toggled)):
            self._toggled[i] = False

    def map(self, status, d1, d2, out) -> int:
        """Map one channel message; append commands to ``out`` (a list) or call ``out(cmd)``.

        Returns the number of commands produced (0 or 1).
        """
        if status < 0x80 or status > 0xEF:
            return 0
        ch = status & 0x0F
        if self._ch >= 0 and ch != self._ch:
            return 0
        d1 &= 0x7F
        d2 &= 0x7F
        if self.monitor is not None:
            self.monitor.push(0, status, d1, d2)
        kind = status >> 4
        if kind == 0x9 or kind == 0x8:
            k = self._note[(ch << 7) | d1]
            if k >= 0:
                cmd = self._note_param(k, d2 if kind == 0x9 else 0)
            elif kind == 0x9 and d2:
                cmd = ("note_on", d1, d2)
            else:
                cmd = _NOTE_OFF[d1]
        elif kind == 0xB:
            cmd = self._control(ch, d1, d2)
        elif kind == 0xE:
            v = (d2 << 7) | d1
            k = self._bend[ch]
            if k >= 0 and self._entries[k][0] == _PARAM:
                cmd = self._set(k, v / 16383.0)
            else:
                v -= BEND_CENTER
                cmd = ("pitch_bend", v / 8192.0 if v < 0 else v / 8191.0)
        elif kind == 0xD:
            k = self._touch[ch]
            cmd = self._entries[k][1][d1] if k >= 0 else None
        elif kind == 0xC:
            cmd = _PROGRAM[d1]
        else:
            return 0
        if cmd is None:
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

    def _control(self, ch, cc, value):
        k = self._cc[(ch << 7) | cc]
        if k < 0:
            return None
        entry = self._entries[k]
        kind = entry[0]
        if kind == _PARAM:
            return entry[1][value]
        if kind == _MSB:
            self._msb[(ch << 5) | cc] = value
            return entry[1][value]
        if kind == _LSB:
            msb = self._msb[(ch << 5) | (cc - 32)]
            return None if msb < 0 else self._set(k, ((msb << 7) | value) / 16383.0)
        if kind == _SUSTAIN:
            return _PEDAL[value >= 64]
        return _ALL_SOUND_OFF if kind == _SOUND_OFF else _ALL_NOTES_OFF

    def _note_param(self, k, velocity):
        entry = self._entries[k]
        mode = entry[6]
        if mode == "velocity":
            return entry[1][velocity] if velocity else None
        if mode == "gate":
            return entry[1][127 if velocity else 0]
        if not velocity:
            return None
        self._toggled[k] = not self._toggled[k]
        return entry[1][127 if self._toggled[k] else 0]

    def _set(self, k, u):
        _, _, spec, lo, hi, curve, _, smooth = self._entries[k]
        return _command(spec, from_unit(u, lo, hi, curve), smooth)

    def _compile(self, e, spec):
        """Add entry ``e`` to the dispatch tables: (kind, 128 commands, spec, lo, hi, curve,
        note_mode, smooth) per entry; each source position points at its entry."""
        k = len(self._entries)
        if e.is_action:
            kind, table = _ACTION_KIND[e.param], None
        else:
            kind = _MSB if e.bits == 14 else _PARAM
            table = tuple(_command(spec, from_unit(v / 127.0, e.lo, e.hi, e.curve), e.smooth)
                          for v in range(128))
        self._entries.append((kind, table, spec, e.lo, e.hi, e.curve, e.note_mode, e.smooth))
        channels = range(16) if e.channel is None else (e.channel - 1,)
        for ch in channels:
            if e.source == "cc":
                self._cc[(ch << 7) | e.number] = k
                if e.bits == 14:
                    self._cc[(ch << 7) | (e.number + 32)] = len(self._entries)
            elif e.source == "note":
                self._note[(ch << 7) | e.number] = k
            elif e.source == "bend":
                self._bend[ch] = k
            else:
                self._touch[ch] = k
        if e.bits == 14:  # the LSB's own entry: same parameter, refined
            self._entries.append((_LSB,) + self._entries[k][1:])


def _command(spec, value, smooth):
    # no glide: the engine command itself (the automation only mirrors it); a glide: a request
    return ("set", spec.name, value, smooth) if smooth > 0 else to_command(spec, value)
