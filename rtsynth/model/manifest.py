"""Reading and validating a bundle's ``manifest.json`` (design.md, "Model bundle contract").

Every failure is one :class:`~rtsynth.errors.ModelError` sentence of the form
``<file>: expected <field> to be <what>, found <field>=<value>.`` The allowed
values live in the tables below, so a new format version or feature layout is
a data change, not a code change.
"""

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from rtsynth.errors import ModelError
from rtsynth.dsp.features import FEATURE_KINDS
from rtsynth.dsp.features import n_features as feature_count

__all__ = ["Manifest", "load_manifest", "MANIFEST_NAME", "SUPPORTED_FORMAT_VERSIONS", "KINDS",
           "WINDOWS", "INPUT_FEATURES", "FRAME_NORMALIZATIONS", "ONNX_FILES", "REQUIRED_FILES"]

MANIFEST_NAME = "manifest.json"
SUPPORTED_FORMAT_VERSIONS = (1,)
KINDS = ("canne", "anne")
WINDOWS = ("hann",)
#: input layout -> number of difference blocks appended to the magnitude frame
#: allowed input_features values (the feature definitions live in rtsynth.dsp.features)
INPUT_FEATURES = tuple(FEATURE_KINDS)
FRAME_NORMALIZATIONS = ("max", "none")
#: the ONNX files a manifest may list; only the decoder is required (a synth needs no encoder)
ONNX_FILES = ("decoder.onnx", "encoder.onnx")
REQUIRED_FILES = ("decoder.onnx",)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. Shapes: ``latent_range`` is (latent_dim, 2) as nested tuples.

    ``n_features`` (encoder input width) is derived: ``n_bins * (1 + diffs)``.
    ``files`` maps each listed ONNX file name to its lower-case sha256 hex.
    ``variants`` maps a variant name (e.g. ``int8``) to ``{base file: (file, sha256)}``,
    e.g. ``{"int8": {"decoder.onnx": ("decoder.int8.onnx", "ab12...")}}``.
    The dict fields are the parsed JSON, not copies; treat them as read-only.
    """

    path: Path
    format_version: int
    name: str
    kind: str
    sample_rate: int
    n_fft: int
    hop: int
    window: str
    n_bins: int
    latent_dim: int
    latent_range: tuple
    input_features: str
    n_features: int
    frame_normalization: str
    corpus: dict
    metrics: dict
    files: dict
    presets: dict = field(default_factory=dict)
    description: str = ""
    variants: dict = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        """The bundle folder (the manifest's parent)."""
        return self.path.parent


def load_manifest(folder) -> Manifest:
    """Read ``<folder>/manifest.json`` and validate it against the contract.

    Parameters
    ----------
    folder : str or os.PathLike
        The bundle folder.

    Returns
    -------
    Manifest

    Raises
    ------
    ModelError
        One sentence naming the file, the field, what was expected and what was found.
    """
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"{path}: expected the bundle's {MANIFEST_NAME}, found no such file.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{path}: expected valid JSON, found {e.msg} at line {e.lineno} "
                         f"column {e.colno}.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"{path}: expected a readable UTF-8 JSON file, found {e}.") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object at the top level, "
                         f"found {type(data).__name__} {_show(data)}.")
    v = _Validator(path, data)
    # format_version first: another version may define every other field differently
    v.get("format_version", _is_int, "an int", allowed=SUPPORTED_FORMAT_VERSIONS)
    n_fft = v.get("n_fft", lambda x: _is_int(x) and x >= 16 and x % 2 == 0, "an even int >= 16")
    n_bins = n_fft // 2 + 1
    latent_dim = v.get("latent_dim", lambda x: _is_int(x) and x >= 1, "an int >= 1")
    features = v.get("input_features", None, "", allowed=INPUT_FEATURES)
    presets = v.get("presets", lambda p: isinstance(p, dict), "an object", default={})
    for key, vec in presets.items():
        v.check(f"presets[{key!r}]", vec, lambda x: _is_vector(x, latent_dim),
                f"a list of {latent_dim} finite numbers (latent_dim)")
    return Manifest(
        path=path,
        format_version=data["format_version"],
        name=v.get("name", lambda x: isinstance(x, str) and x != "", "a non-empty string"),
        kind=v.get("kind", None, "", allowed=KINDS),
        sample_rate=v.get("sample_rate", lambda x: _is_int(x) and x > 0, "an int > 0"),
        n_fft=n_fft,
        hop=v.get("hop", lambda x: _is_int(x) and 1 <= x <= n_fft // 2,
                  f"an int in 1..{n_fft // 2} (n_fft/2)"),
        window=v.get("window", None, "", allowed=WINDOWS),
        n_bins=v.get("n_bins", lambda x: _is_int(x) and x == n_bins, f"{n_bins} (n_fft/2+1)"),
        latent_dim=latent_dim,
        latent_range=_latent_range(v, latent_dim),
        input_features=features,
        n_features=feature_count(features, n_bins),
        frame_normalization=v.get("frame_normalization", None, "", allowed=FRAME_NORMALIZATIONS),
        corpus=v.get("corpus", lambda x: isinstance(x, dict), "an object"),
        metrics=v.get("metrics", lambda m: isinstance(m, dict) and all(
            isinstance(k, str) and _is_number(x) for k, x in m.items()),
            "an object of name -> number"),
        files=_files(v),
        presets=presets,
        description=v.get("description", lambda x: isinstance(x, str), "a string", default=""),
        variants=_variants(v),
    )


class _Validator:
    """Field lookups that raise the contract's one-sentence error."""

    def __init__(self, path, data):
        self.path, self.data = path, data

    def get(self, name, ok, expected, *, allowed=None, default=...):
        if name not in self.data:
            if default is not ...:
                return default
            raise ModelError(f"{self.path}: expected required field {name!r}, found it missing.")
        value = self.data[name]
        if allowed is not None:
            ok = lambda x: any(x == a and type(x) is type(a) for a in allowed)  # noqa: E731
            expected = "one of " + ", ".join(repr(a) for a in allowed)
        return self.check(name, value, ok, expected)

    def check(self, name, value, ok, expected):
        if not ok(value):
            raise ModelError(f"{self.path}: expected {name} to be {expected}, "
                             f"found {name}={_show(value)}.")
        return value


def _latent_range(v, latent_dim):
    pairs = v.get("latent_range", lambda x: isinstance(x, list) and len(x) == latent_dim,
                  f"a list of {latent_dim} [min, max] pairs (latent_dim)")
    for i, pair in enumerate(pairs):
        v.check(f"latent_range[{i}]", pair,
                lambda p: _is_vector(p, 2) and p[0] <= p[1], "[min, max] finite with min <= max")
    return tuple((float(lo), float(hi)) for lo, hi in pairs)


def _files(v):
    files = v.get("files", lambda f: isinstance(f, dict) and set(f) <= set(ONNX_FILES)
                  and set(REQUIRED_FILES) <= set(f),
                  f"an object with keys among {', '.join(ONNX_FILES)} "
                  f"including {', '.join(REQUIRED_FILES)}")
    for name, entry in files.items():
        v.check(f"files[{name!r}]", entry, _is_sha_entry, '{"sha256": <64 hex digits>}')
    return {name: entry["sha256"].lower() for name, entry in files.items()}


def _variants(v):
    # {"int8": {"decoder.int8.onnx": {"sha256": ...}}}: each file is <base stem>.<variant>.onnx
    variants = v.get("variants", lambda x: isinstance(x, dict), "an object", default={})
    out = {}
    for name, files in variants.items():
        allowed = {f"{b[:-5]}.{name}.onnx": b for b in ONNX_FILES}
        v.check(f"variants[{name!r}]", files,
                lambda f: isinstance(f, dict) and f"decoder.{name}.onnx" in f
                and set(f) <= set(allowed),
                f"an object with keys among {', '.join(allowed)} including decoder.{name}.onnx")
        for fname, entry in files.items():
            v.check(f"variants[{name!r}][{fname!r}]", entry, _is_sha_entry,
                    '{"sha256": <64 hex digits>}')
        out[name] = {allowed[f]: (f, e["sha256"].lower()) for f, e in files.items()}
    return out


def _is_sha_entry(e):
    return (isinstance(e, dict) and isinstance(e.get("sha256"), str)
            and re.fullmatch(r"[0-9a-fA-F]{64}", e["sha256"]) is not None)


def _is_int(x):
    # bool is an int subclass in Python, but `true` is never a valid size in JSON
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_vector(x, n):
    return (isinstance(x, list) and len(x) == n
            and all(_is_number(a) and math.isfinite(a) for a in x))


def _show(value, limit=60):
    """A short repr: error sentences stay one line even for a huge list."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} items)" if isinstance(value, (list, dict)) else ""
    return text[:limit - 3] + "..." + size
