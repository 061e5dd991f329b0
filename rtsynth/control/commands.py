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

Map format (JSON object, ``format_version`` 1)::

    {"format_version": 1, "name": "...", "description": "...",
     "channel": "omni" | 1..16,
     "controls": [{"cc": 21, "param": "latent", "index": 0, "bits": 7 | 14}, ...,
                  {"cc": 64, "param": "sustain"}]}

Each entry needs ``cc`` (0..127) and ``param`` (a key of :data:`PARAMS`);
``latent`` needs ``index`` (>= 0) and takes ``bits`` (7, the default, or 14:
then ``cc`` must be 0..31 and ``cc + 32`` becomes its LSB); ``knob`` needs
``index`` 0..4. Maps combine with :func:`merge_maps` (CANNe through ANNe uses
both defaults: CC 21-28 and CC 29-35 do not overlap). An optional
``label`` names the control for a UI. Every CC, LSBs included, may be used
once. Later issues (MIDI learn, full mapping files) add params and keys here.
"""

import json
from importlib import resources
from pathlib import Path

from rtsynth.errors import InputError

__all__ = ["CommandMapper", "load_map", "default_map", "validate_map", "merge_maps",
           "DEFAULT_MAP_NAME", "ANNE_MAP_NAME", "PARAMS", "SUPPORTED_FORMAT_VERSIONS",
           "BEND_CENTER"]

DEFAULT_MAP_NAME = "canne_default_map.json"
ANNE_MAP_NAME = "anne_default_map.json"
N_KNOBS = 5
SUPPORTED_FORMAT_VERSIONS = (1,)
#: param name -> (required extra keys, allowed extra keys, allowed bits)
PARAMS = {
    "latent": (("index",), ("index", "bits"), (7, 14)),
    "sustain": ((), ("bits",), (7,)),
    "all_sound_off": ((), ("bits",), (7,)),
    "all_notes_off": ((), ("bits",), (7,)),
    "knob": (("index",), ("index", "bits"), (7,)),
    "wet": ((), ("bits",), (7,)),
    "bypass": ((), ("bits",), (7,)),
}
TOP_KEYS = ("format_version", "name", "description", "channel", "controls")
REQUIRED_TOP_KEYS = ("format_version", "controls")
ENTRY_KEYS = ("cc", "param", "label")  # + the param's allowed extras
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


# ------------------------------------------------------------------ loading / validation
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _fail(source, key, expected, found):
    raise InputError(f"{source}: expected {key} to be {expected}, found {key}={found!r}.")


def validate_map(data, source="CC map", latent_dim=None) -> dict:
    """Check a map object against the format above; return a normalised copy.

    The copy has ``channel`` as None (omni) or 1..16 and every control with
    ``bits`` filled in. ``source`` (usually the file path) starts every error
    message; with ``latent_dim`` given, latent indices must be below it.

    Raises
    ------
    rtsynth.errors.InputError
        One sentence naming the source, the key, what was expected and what was found.
    """
    if not isinstance(data, dict):
        _fail(source, "the top level", "a JSON object", type(data).__name__)
    for key in REQUIRED_TOP_KEYS:
        if key not in data:
            raise InputError(f"{source}: expected required key {key!r}, found it missing.")
    for key in data:
        if key not in TOP_KEYS:
            raise InputError(f"{source}: expected top-level keys among {', '.join(TOP_KEYS)}, "
                             f"found unknown key {key!r}.")
    version = data["format_version"]
    if not _is_int(version) or version not in SUPPORTED_FORMAT_VERSIONS:
        _fail(source, "format_version", f"one of {SUPPORTED_FORMAT_VERSIONS}", version)
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            _fail(source, key, "a string", data[key])
    channel = data.get("channel", _OMNI)
    if channel is None or channel == _OMNI:
        channel = None
    elif not _is_int(channel) or not 1 <= channel <= 16:
        _fail(source, "channel", '"omni" or an integer 1..16', channel)
    if latent_dim is not None and (not _is_int(latent_dim) or latent_dim < 1):
        raise InputError(f"expected latent_dim to be an integer >= 1, found latent_dim={latent_dim!r}.")

    controls = data["controls"]
    if not isinstance(controls, list):
        _fail(source, "controls", "a list of control objects", controls)
    used = {}  # cc -> description of its user, for duplicate messages
    out_controls = []
    for i, entry in enumerate(controls):
        where = f"controls[{i}]"
        if not isinstance(entry, dict):
            _fail(source, where, "an object like {\"cc\": 21, \"param\": \"latent\", \"index\": 0}", entry)
        for key in ("cc", "param"):
            if key not in entry:
                raise InputError(f"{source}: expected required key {where}.{key}, found it missing.")
        param = entry["param"]
        if not isinstance(param, str) or param not in PARAMS:
            _fail(source, f"{where}.param", f"one of {', '.join(PARAMS)}", param)
        required, extras, allowed_bits = PARAMS[param]
        for key in entry:
            if key not in ENTRY_KEYS and key not in extras:
                allowed = ", ".join(ENTRY_KEYS + extras)
                raise InputError(f"{source}: expected {where} keys among {allowed} for param "
                                 f"{param!r}, found unknown key {key!r}.")
        for key in required:
            if key not in entry:
                raise InputError(f"{source}: expected required key {where}.{key} for param "
                                 f"{param!r}, found it missing.")
        cc = entry["cc"]
        if not _is_int(cc) or not 0 <= cc <= 127:
            _fail(source, f"{where}.cc", "an integer 0..127", cc)
        if "label" in entry and not isinstance(entry["label"], str):
            _fail(source, f"{where}.label", "a string", entry["label"])
        bits = entry.get("bits", 7)
        if not _is_int(bits) or bits not in allowed_bits:
            _fail(source, f"{where}.bits", " or ".join(map(str, allowed_bits)) + f" for param {param!r}", bits)
        if bits == 14 and cc > 31:
            _fail(source, f"{where}.cc", "an integer 0..31 for a 14-bit control (its LSB is cc + 32)", cc)
        if "index" in entry:
            index = entry["index"]
            if not _is_int(index) or index < 0:
                _fail(source, f"{where}.index", "an integer >= 0", index)
            if param == "latent" and latent_dim is not None and index >= latent_dim:
                _fail(source, f"{where}.index", f"below the model's latent_dim {latent_dim}", index)
            if param == "knob" and index >= N_KNOBS:
                _fail(source, f"{where}.index", f"0..{N_KNOBS - 1} (knobs a-e)", index)
        claims = [(cc, where)] + ([(cc + 32, f"{where} (the LSB CC {cc + 32} of its 14-bit CC {cc})")]
                                  if bits == 14 else [])
        for c, who in claims:
            if c in used:
                raise InputError(f"{source}: expected each CC to be used once, found {who} "
                                 f"using CC {c} already used by {used[c]}.")
            used[c] = who
        norm = dict(entry)
        norm["bits"] = bits
        out_controls.append(norm)

    out = {key: data[key] for key in data if key != "controls"}
    out["channel"] = channel
    out["controls"] = out_controls
    return out


def load_map(path, latent_dim=None) -> dict:
    """Read and validate a CC map JSON file (see :func:`validate_map`); errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: expected a CC map JSON file, found no such file.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: expected a readable UTF-8 JSON file, found {e}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: expected valid JSON, found {e.msg} at line {e.lineno} "
                         f"column {e.colno}.") from None
    return validate_map(data, source=str(path), latent_dim=latent_dim)


def default_map(latent_dim=None, name=DEFAULT_MAP_NAME) -> dict:
    """A packaged map from ``rtsynth/control/data/``, validated.

    ``name``: :data:`DEFAULT_MAP_NAME` (CANNe, the default) or :data:`ANNE_MAP_NAME`.
    """
    ref = resources.files("rtsynth.control").joinpath("data", name)
    with resources.as_file(ref) as path:
        return load_map(path, latent_dim=latent_dim)


def merge_maps(*maps, source="merged CC maps") -> dict:
    """One map holding every control of ``maps`` (validated: a CC used twice is an error).

    The channel and name come from the first map.
    """
    merged = {"format_version": 1, "name": "+".join(m.get("name", "map") for m in maps),
              "channel": maps[0].get("channel") or "omni",
              "controls": [c for m in maps for c in m["controls"]]}
    return validate_map(merged, source=source)


# ------------------------------------------------------------------ mapper
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
        if channel is not None and (not _is_int(channel) or not 1 <= channel <= 16):
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
