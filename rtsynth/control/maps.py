"""CC maps: which MIDI controller moves which parameter (JSON data, validated here).

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

Packaged maps (``rtsynth/control/data/``): ``canne_default_map.json`` (CC 21-28
latents 0-7, 14-bit with LSB CC 53-60; CC 64 sustain; CC 120/123) and
``anne_default_map.json`` (CC 29-33 knobs a-e, CC 34 dry/wet, CC 35 bypass).
"""

import json
from importlib import resources
from pathlib import Path

from rtsynth.errors import InputError

__all__ = ["load_map", "default_map", "validate_map", "merge_maps", "instrument_map",
           "DEFAULT_MAP_NAME", "ANNE_MAP_NAME", "PARAMS", "SUPPORTED_FORMAT_VERSIONS"]

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
_OMNI = "omni"


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


def instrument_map(instrument, fx=False):
    """The packaged map an instrument plays with: 'canne', 'anne', or 'canne' with ``fx``
    (both maps: the synth's CCs and the effect's)."""
    if instrument == "anne":
        return default_map(name=ANNE_MAP_NAME)
    if fx:
        return merge_maps(default_map(), default_map(name=ANNE_MAP_NAME))
    return default_map()


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _fail(source, key, expected, found):
    raise InputError(f"{source}: expected {key} to be {expected}, found {key}={found!r}.")
