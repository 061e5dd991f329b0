"""Fuzz the manifest loader with malformed files: a ModelError with a clear sentence, or a
valid Manifest, and nothing else.

Cases start from a valid manifest and break it: a field removed, a field's value
replaced by any JSON value (nested lists and objects, huge numbers, NaN and
Infinity, which Python's json accepts), unknown fields added, the text
truncated anywhere, random bytes (invalid UTF-8 included) and non-object JSON.
"""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_bundles import manifest_dict
from rtsynth.errors import ModelError
from rtsynth.model.manifest import Manifest, load_manifest

VALID = manifest_dict({"decoder.onnx": b"d", "encoder.onnx": b"e"})
FIELDS = sorted(VALID)

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
              st.floats(allow_nan=True, allow_infinity=True,
                        # a library loaded earlier in the session may set flush-to-zero,
                        # under which hypothesis refuses to draw subnormals
                        allow_subnormal=False), st.text(max_size=12),
              st.sampled_from([0, 1, 16, 64, 33, 8, "hann", "max", "mag", "mag+diff1", "canne",
                               "anne", [0.0, 4.0], [[0.0, 4.0]] * 8, {"sha256": "0" * 64}])),
    lambda inner: st.one_of(st.lists(inner, max_size=9),
                            st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=20)


@st.composite
def broken_manifests(draw):
    """The bytes of a manifest.json, mostly broken."""
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "truncate", "bytes", "toplevel"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "toplevel":
        return json.dumps(draw(json_values)).encode()
    data = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "replace", "replace", "add", "nest"]))
        key = draw(st.sampled_from(FIELDS))
        if op == "drop":
            data.pop(key, None)
        elif op == "replace":
            data[key] = draw(json_values)
        elif op == "add":
            data[draw(st.text(max_size=8))] = draw(json_values)
        elif isinstance(data.get(key), dict) and data[key]:  # break something inside
            inner = draw(st.sampled_from(sorted(data[key])))
            data[key][inner] = draw(json_values)
    text = json.dumps(data).encode()
    if kind == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    return text


@settings(max_examples=1500, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw=broken_manifests())
def test_malformed_manifests_raise_only_model_error_with_a_sentence(tmp_path, raw):
    path = tmp_path / "manifest.json"
    path.write_bytes(raw)
    try:
        m = load_manifest(tmp_path)
    except ModelError as e:
        msg = str(e)
        assert msg.startswith(f"{path}: expected "), msg
        assert "found" in msg and msg.endswith(".") and "\n" not in msg, msg
        return
    assert isinstance(m, Manifest)  # whatever got through is a consistent manifest
    assert m.n_bins == m.n_fft // 2 + 1 and len(m.latent_range) == m.latent_dim
    assert all(math.isfinite(lo) and math.isfinite(hi) for lo, hi in m.latent_range)
