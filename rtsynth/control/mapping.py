"""Mapping files: which MIDI control moves which parameter, with range, curve and glide.

A mapping is TOML (``--map FILE``)::

    format_version = 2
    name = "my-controller"
    channel = "omni"            # default for every entry: "omni" or 1..16

    [[map]]
    param = "latent.0"          # a parameter name (rtsynth.control.params) or an action
    cc = 21                     # the source: cc = N, note = N, bend = true or aftertouch = true
    bits = 14                   # cc only: 7 (default) or 14 (cc 0..31, LSB on cc + 32)
    range = [0.0, 50.0]         # optional, parameter units (reversed = inverted knob)
    curve = "exp"               # optional: lin, log, exp (default: the parameter's own)
    smooth = 0.05               # optional glide in seconds (default 0)
    channel = 2                 # optional, overrides the file's channel

Actions: ``sustain_pedal`` (cc, on at >= 64), ``all_sound_off`` and ``all_notes_off``
(cc, any value), ``pitch_bend`` (bend; the default when bend is not mapped).
A ``note`` source takes ``note_mode``: ``velocity`` (default: note-on velocity
sets the control position), ``gate`` (on: top of the range, off: bottom) or
``toggle``; a mapped note no longer plays. Each source is used once per channel
(an omni entry claims every channel; a 14-bit CC also claims its LSB).
Every error names the file, the line and the key.
"""

from dataclasses import dataclass, field
from importlib import resources

from rtsynth.errors import InputError

from .params import CURVES, param_specs
from .tomlfile import key_line, read_toml, where

__all__ = ["Mapping", "Entry", "load_mapping", "validate_mapping", "default_mapping",
           "instrument_mapping", "merge_mappings", "mapping_to_dict", "ACTIONS", "SOURCES",
           "NOTE_MODES", "FORMAT_VERSION"]

FORMAT_VERSION = 2
ACTIONS = ("sustain_pedal", "all_sound_off", "all_notes_off", "pitch_bend")
SOURCES = ("cc", "note", "bend", "aftertouch")
NOTE_MODES = ("velocity", "gate", "toggle")
DEFAULT_FILES = {"canne": "canne_default_map.toml", "anne": "anne_default_map.toml"}
_TOP_KEYS = ("format_version", "name", "description", "channel", "map")
_ENTRY_KEYS = ("param", "bits", "range", "curve", "smooth", "channel", "note_mode",
               "label") + SOURCES
_MAX_SMOOTH = 10.0


@dataclass(frozen=True)
class Entry:
    """One validated mapping: ``source`` (``number`` for cc/note) on ``channel`` -> ``param``.

    ``channel`` is None for omni. ``lo``/``hi``/``curve`` are filled from the
    parameter when the file leaves them out; actions have neither. ``line``:
    where the source key is in the file (0 when not from a file).
    """

    param: str
    source: str
    number: int = 0
    bits: int = 7
    channel: int = None
    lo: float = 0.0
    hi: float = 1.0
    curve: str = "lin"
    smooth: float = 0.0
    note_mode: str = "velocity"
    label: str = ""
    line: int = 0
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_action(self) -> bool:
        return self.param in ACTIONS


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file: its entries in file order."""

    entries: tuple
    name: str = ""
    description: str = ""
    channel: int = None
    source: str = "mapping"


def load_mapping(path, specs=None) -> Mapping:
    """Read and validate a mapping TOML file against ``specs`` (default: every parameter).

    Raises
    ------
    InputError
        ``FILE:LINE: key: expected ..., found ...`` for any problem.
    """
    data, text = read_toml(path, "a mapping file")
    return validate_mapping(data, specs, source=str(path), text=text)


def default_mapping(instrument="canne", specs=None) -> Mapping:
    """The packaged default mapping of ``instrument`` (``rtsynth/control/data/``)."""
    ref = resources.files("rtsynth.control").joinpath("data", DEFAULT_FILES[instrument])
    with resources.as_file(ref) as path:
        return load_mapping(path, specs)


def instrument_mapping(instrument, fx=False, specs=None) -> Mapping:
    """What an instrument plays with by default: CANNe's, ANNe's, or both (CANNe with ``fx``)."""
    if instrument == "canne" and fx:
        return merge_mappings(default_mapping("canne", specs), default_mapping("anne", specs))
    return default_mapping(instrument, specs)


def merge_mappings(*mappings, source=None) -> Mapping:
    """All entries of ``mappings`` in one (a source claimed twice is an error)."""
    entries = tuple(e for m in mappings for e in m.entries)
    source = source or " + ".join(m.source for m in mappings)
    _check_overlaps(entries, source, "")
    return Mapping(entries, "+".join(m.name for m in mappings), "", mappings[0].channel, source)


def validate_mapping(data, specs=None, source="mapping", text="") -> Mapping:
    """Check a parsed mapping (a dict as tomllib returns it); return a :class:`Mapping`.

    ``text`` (the TOML source) lets errors name lines.
    """
    specs = specs if specs is not None else param_specs("canne") + param_specs("anne")
    by_name = {s.name: s for s in specs}

    def fail(key, expected, found, index=None):
        at = where(source, text, "map" if index is not None else None, index, key)
        name = key if index is None else f"map[{index}].{key}"
        raise InputError(f"{at}: expected {name} to be {expected}, found {name}={found!r}.")

    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a TOML table at the top level, found "
                         f"{type(data).__name__}.")
    for key in data:
        if key not in _TOP_KEYS:
            fail(key, f"absent (top-level keys are {', '.join(_TOP_KEYS)})", data[key])
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION or isinstance(version, bool):
        fail("format_version", str(FORMAT_VERSION), version)
    for key in ("name", "description"):
        if not isinstance(data.get(key, ""), str):
            fail(key, "a string", data[key])
    channel = _channel(data.get("channel", "omni"), lambda v: fail("channel", '"omni" or 1..16', v))
    items = data.get("map", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        fail("map", "an array of tables ([[map]] entries)", items)
    entries = tuple(_entry(i, item, by_name, channel, fail, text) for i, item in enumerate(items))
    _check_overlaps(entries, source, text)
    return Mapping(entries, data.get("name", ""), data.get("description", ""), channel, source)


def mapping_to_dict(mapping) -> dict:
    """A mapping as the TOML structure it came from (for writing it back)."""
    out = {"format_version": FORMAT_VERSION}
    if mapping.name:
        out["name"] = mapping.name
    if mapping.description:
        out["description"] = mapping.description
    out["channel"] = "omni" if mapping.channel is None else mapping.channel
    out["map"] = [dict(e.raw) for e in mapping.entries]
    return out


def _entry(i, item, by_name, file_channel, fail, text):
    for key in item:
        if key not in _ENTRY_KEYS:
            fail(key, f"absent (entry keys are {', '.join(_ENTRY_KEYS)})", item[key], i)
    param = item.get("param")
    if not isinstance(param, str):
        fail("param", "a parameter name or action (a string)", param, i)
    spec = by_name.get(param)
    if spec is None and param not in ACTIONS:
        groups = ", ".join(dict.fromkeys(s.name.split(".")[0] + (".N" if "." in s.name else "")
                                         for s in by_name.values()))
        fail("param", f"a parameter ({groups}) or an action ({', '.join(ACTIONS)})", param, i)
    sources = [s for s in SOURCES if s in item]
    if len(sources) != 1:
        fail(sources[1] if len(sources) > 1 else "cc",
             "exactly one source (cc = N, note = N, bend = true or aftertouch = true)",
             {s: item[s] for s in sources} or None, i)
    kind = sources[0]
    number = item[kind]
    if kind in ("cc", "note"):
        if not _is_int(number) or not 0 <= number <= 127:
            fail(kind, "an integer 0..127", number, i)
    elif number is not True:
        fail(kind, "true", number, i)
        number = 0
    number = int(number) if kind in ("cc", "note") else 0
    bits = item.get("bits", 7)
    if bits not in (7, 14) or isinstance(bits, bool) or (bits == 14 and kind != "cc"):
        fail("bits", "7 or 14 (14 for a cc only)", bits, i)
    if bits == 14 and number > 31:
        fail("cc", "0..31 for a 14-bit cc (its LSB is cc + 32)", number, i)
    channel = file_channel
    if "channel" in item:
        channel = _channel(item["channel"], lambda v: fail("channel", '"omni" or 1..16', v, i))
    action_ok = {"pitch_bend": ("bend",), "sustain_pedal": ("cc",), "all_sound_off": ("cc",),
                 "all_notes_off": ("cc",)}
    if spec is None and kind not in action_ok[param]:
        fail(kind, f"absent: action {param!r} takes {action_ok[param][0]}", item[kind], i)
    lo, hi, curve = (spec.lo, spec.hi, spec.curve) if spec else (0.0, 1.0, "lin")
    if "range" in item:
        r = item["range"]
        if (spec is None or not isinstance(r, list) or len(r) != 2
                or not all(_is_num(v) and spec.lo <= v <= spec.hi for v in r)):
            fail("range", f"[low, high] within {spec.lo:g}..{spec.hi:g}" if spec else
                 "absent for an action", r, i)
        lo, hi = float(r[0]), float(r[1])
    curve = item.get("curve", curve)
    if curve not in CURVES:
        fail("curve", " or ".join(CURVES), curve, i)
    smooth = item.get("smooth", 0.0)
    if not _is_num(smooth) or not 0.0 <= smooth <= _MAX_SMOOTH:
        fail("smooth", f"seconds 0..{_MAX_SMOOTH:g}", smooth, i)
    note_mode = item.get("note_mode", "velocity")
    if note_mode not in NOTE_MODES or ("note_mode" in item and kind != "note"):
        fail("note_mode", " or ".join(NOTE_MODES) + " (for a note only)", note_mode, i)
    label = item.get("label", "")
    if not isinstance(label, str):
        fail("label", "a string", label, i)
    return Entry(param, kind, number, bits, channel, lo, hi, curve, float(smooth), note_mode,
                 label, (key_line(text, "map", i, kind) or key_line(text, "map", i)) if text else 0,
                 dict(item))


def _check_overlaps(entries, source, text):
    used = {}
    for i, e in enumerate(entries):
        numbers = [e.number] + ([e.number + 32] if e.bits == 14 else [])
        for n in numbers:
            for ch in range(16) if e.channel is None else (e.channel - 1,):
                key = (e.source, n, ch)
                if key in used:
                    j, other = used[key]
                    what = f"{e.source} {n}" if e.source in ("cc", "note") else e.source
                    at = f"{source}:{e.line}" if e.line else source
                    raise InputError(
                        f"{at}: expected each source to be mapped once per channel, found "
                        f"map[{i}] ({e.param}) using {what} on channel {ch + 1}, already "
                        f"used by map[{j}] ({other.param}"
                        f"{f', line {other.line}' if other.line else ''}).")
                used[key] = (i, e)


def _channel(value, fail):
    if value == "omni" or value is None:
        return None
    if not _is_int(value) or not 1 <= value <= 16:
        fail(value)
    return int(value)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)

