"""Presets: named parameter states in TOML, recalled by name, by file or by program change.

A preset file (a bank) holds one or more presets, in order; MIDI program
change ``n`` (0-based, as sent on the wire) recalls the ``n``-th::

    format_version = 1
    instrument = "canne"

    [[preset]]
    name = "glass"
    [preset.values]
    "latent.0" = 0.03
    attack = 0.01
    volume = 0.8

Values are in parameter units (:mod:`rtsynth.control.params`); a preset may
set only some parameters (the rest keep their values). Each model folder can
ship ``presets.toml``. Errors name the file, the line and the key; writes are
atomic (a temporary file, then a rename).
"""

from dataclasses import dataclass
from pathlib import Path

from rtsynth.errors import InputError

from .tomlfile import read_toml, where, write_toml

__all__ = ["Preset", "load_presets", "save_preset", "find_preset", "presets_to_dict",
           "BANK_FILE", "FORMAT_VERSION"]

FORMAT_VERSION = 1
#: the preset bank a model folder may ship
BANK_FILE = "presets.toml"
_TOP_KEYS = ("format_version", "instrument", "description", "preset")
_PRESET_KEYS = ("name", "description", "values")


@dataclass(frozen=True)
class Preset:
    """A named parameter state: ``values`` maps parameter names to values."""

    name: str
    values: dict
    description: str = ""


def load_presets(path, specs) -> list:
    """Read and validate a preset bank; return its presets in order.

    Raises
    ------
    InputError
        ``FILE:LINE: expected ..., found ...`` for a bad file, an unknown
        parameter or a value outside its range.
    """
    data, text = read_toml(path, "a preset file")
    source = str(path)
    by_name = {s.name: s for s in specs}

    def fail(key, expected, found, index=None, line_key=None):
        at = where(source, text, "preset" if index is not None else None, index, line_key or key)
        name = key if index is None else f"preset[{index}].{key}"
        raise InputError(f"{at}: expected {name} to be {expected}, found {name}={found!r}.")

    for key in data:
        if key not in _TOP_KEYS:
            fail(key, f"absent (top-level keys are {', '.join(_TOP_KEYS)})", data[key])
    if data.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        fail("format_version", str(FORMAT_VERSION), data["format_version"])
    items = data.get("preset", [])
    if not isinstance(items, list) or not all(isinstance(p, dict) for p in items):
        fail("preset", "an array of tables ([[preset]] entries)", items)
    presets, seen = [], set()
    for i, item in enumerate(items):
        for key in item:
            if key not in _PRESET_KEYS:
                fail(key, f"absent (preset keys are {', '.join(_PRESET_KEYS)})", item[key], i)
        name = item.get("name")
        if not isinstance(name, str) or not name or name in seen:
            fail("name", "a non-empty name used once in the file", name, i)
        seen.add(name)
        values = item.get("values", {})
        if not isinstance(values, dict):
            fail("values", "a table of parameter = value", values, i)
        values = _flatten(values)  # latent.0 = 1 (a dotted key) is "latent.0" = 1
        for key, v in values.items():
            spec = by_name.get(key)
            if spec is None:
                fail(f"values.{key}", "a parameter of this instrument "
                     f"({', '.join(dict.fromkeys(s.group for s in specs))})", key, i, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not spec.lo <= v <= spec.hi:
                fail(f"values.{key}", f"a number in {spec.lo:g}..{spec.hi:g}", v, i, key)
        presets.append(Preset(name, {k: float(v) for k, v in values.items()},
                              item.get("description", "")))
    return presets


def find_preset(presets, name, source="presets"):
    """The preset called ``name``; one sentence listing the names when there is none."""
    for p in presets:
        if p.name == name:
            return p
    names = ", ".join(p.name for p in presets) or "none"
    raise InputError(f"preset={name!r}: expected a preset name in {source} ({names}), "
                     f"found no preset called that.")


def presets_to_dict(presets, instrument=None) -> dict:
    """A bank as the TOML structure :func:`load_presets` reads."""
    out = {"format_version": FORMAT_VERSION}
    if instrument:
        out["instrument"] = instrument
    out["preset"] = []
    for p in presets:
        item = {"name": p.name}
        if p.description:
            item["description"] = p.description
        item["values"] = dict(p.values)
        out["preset"].append(item)
    return out


def save_preset(path, preset, specs, instrument=None) -> Path:
    """Add ``preset`` to the bank at ``path`` (replacing one of the same name; the file is
    created when missing) and write it atomically. Returns the path."""
    path = Path(path)
    bank = load_presets(path, specs) if path.exists() else []
    names = [p.name for p in bank]
    if preset.name in names:
        bank[names.index(preset.name)] = preset
    else:
        bank.append(preset)
    return write_toml(path, presets_to_dict(bank, instrument))


def _flatten(table, prefix=""):
    out = {}
    for k, v in table.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
