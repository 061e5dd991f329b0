import json
import re

import numpy as np
import pytest

from model_bundles import LATENT, N_BINS, make_bundle, write_file, write_manifest
from rtsynth.errors import InputError, ModelError, RtsynthError
from rtsynth.model import Manifest, ModelBundle, load_bundle, load_manifest


def fails(path, *parts):
    """A ``match=`` pattern: the file path first, then each part in order."""
    return re.escape(str(path)) + "".join(".*" + re.escape(p) for p in parts)


def test_valid_bundle_loads_and_decodes(tmp_path):
    b = load_bundle(make_bundle(tmp_path))
    assert isinstance(b, ModelBundle) and isinstance(b.manifest, Manifest)
    m = b.manifest
    assert (m.n_bins, m.latent_dim, m.n_features, m.kind) == (N_BINS, LATENT, 2 * N_BINS, "canne")
    assert m.latent_range == ((0.0, 4.0),) * LATENT and len(m.files["decoder.onnx"]) == 64
    z = np.linspace(0, 4, LATENT)
    y = b.decode(z)
    assert y.shape == (N_BINS,) and y.dtype == np.float32
    assert np.all(np.isfinite(y)) and np.all(y >= 0)
    Y = b.decode(np.stack([z, z[::-1], z * 0]))
    assert Y.shape == (3, N_BINS) and Y.dtype == np.float32
    np.testing.assert_allclose(Y[0], y, rtol=1e-6)
    out = np.empty((3, N_BINS), np.float32)
    assert b.decode(np.stack([z, z[::-1], z * 0]), out=out) is out
    assert b.encode(np.ones((5, 2 * N_BINS))).shape == (5, LATENT)


def test_binding_shares_buffers_and_matches_decode(tmp_path):
    b = load_bundle(make_bundle(tmp_path))
    binding = b.decoder_binding(batch=2)
    for z in (np.full(LATENT, 0.5), np.arange(LATENT, dtype=float)):
        binding.input[:] = z  # written in place: the OrtValue shares this memory
        out = binding.run()
        assert out is binding.output
        np.testing.assert_allclose(out, b.decode(np.stack([z, z])), rtol=1e-6)
    enc = b.encoder_binding()
    enc.input[:] = 1.0
    np.testing.assert_allclose(enc.run()[0], b.encode(np.ones(2 * N_BINS)), rtol=1e-6)


def test_decode_rejects_wrong_latent_width(tmp_path):
    b = load_bundle(make_bundle(tmp_path))
    with pytest.raises(InputError, match=re.escape("z.shape=(7,)")):
        b.decode(np.zeros(7))


def test_encoder_is_optional_for_a_synth(tmp_path):
    b = load_bundle(make_bundle(tmp_path, encoder=False))
    assert b.encoder_session is None and b.decode(np.zeros(LATENT)).shape == (N_BINS,)
    with pytest.raises(ModelError, match="encoder=None"):
        b.encode(np.zeros(2 * N_BINS))
    assert load_bundle(make_bundle(tmp_path / "x"), need_encoder=False).encoder_session is None


def test_need_encoder_without_encoder(tmp_path):
    folder = make_bundle(tmp_path, encoder=False)
    with pytest.raises(ModelError, match=fails(folder / "manifest.json", "encoder.onnx",
                                               "need_encoder=True", "files=['decoder.onnx']")):
        load_bundle(folder, need_encoder=True)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelError, match=fails(tmp_path / "nope", "found nothing")):
        load_bundle(tmp_path / "nope")


def test_missing_manifest(tmp_path):
    folder = make_bundle(tmp_path)
    (folder / "manifest.json").unlink()
    with pytest.raises(RtsynthError, match=fails(folder / "manifest.json", "no such file")):
        load_bundle(folder)


def test_bad_json_names_line_and_column(tmp_path):
    folder = make_bundle(tmp_path)
    (folder / "manifest.json").write_text('{\n  "name": "x",\n  "kind": canne\n}')
    with pytest.raises(ModelError, match=fails(folder / "manifest.json", "valid JSON",
                                               "line 3 column 11")):
        load_manifest(folder)


def test_top_level_must_be_an_object(tmp_path):
    folder = make_bundle(tmp_path)
    write_manifest(folder, [1, 2])
    with pytest.raises(ModelError, match=fails(folder / "manifest.json", "JSON object", "list")):
        load_manifest(folder)


@pytest.mark.parametrize("field", ["format_version", "latent_dim", "files", "corpus", "hop"])
def test_missing_field(tmp_path, field):
    folder = make_bundle(tmp_path, drop=[field])
    with pytest.raises(ModelError, match=fails(folder / "manifest.json",
                                               f"required field '{field}'", "missing")):
        load_manifest(folder)


@pytest.mark.parametrize("field,value,expected,found", [
    ("format_version", 2, "one of 1", "format_version=2"),
    ("kind", "vocoder", "one of 'canne', 'anne'", "kind='vocoder'"),
    ("window", "hamming", "one of 'hann'", "window='hamming'"),
    ("n_bins", 32, "33 (n_fft/2+1)", "n_bins=32"),
    ("n_fft", 63, "an even int >= 16", "n_fft=63"),
    ("hop", 33, "an int in 1..32", "hop=33"),
    ("sample_rate", 16000.0, "an int > 0", "sample_rate=16000.0"),
    ("latent_dim", True, "an int >= 1", "latent_dim=true"),
    ("latent_range", [[0, 1]] * 7, "a list of 8 [min, max] pairs", "latent_range=[[0, 1]"),
    ("input_features", "mag+phase", "one of 'mag'", "input_features='mag+phase'"),
    ("frame_normalization", "l2", "one of 'max', 'none'", "frame_normalization='l2'"),
    ("metrics", {"sc": "bad"}, "name -> number", 'metrics={"sc": "bad"}'),
    ("files", {"decoder.onnx": {"sha256": "zz"}}, '{"sha256": <64 hex digits>}',
     "files['decoder.onnx']="),
    ("files", {"encoder.onnx": {"sha256": "0" * 64}}, "including decoder.onnx", "files="),
    ("presets", {"a": [1.0] * 3}, "a list of 8 finite numbers", "presets['a']=[1.0, 1.0, 1.0]"),
])
def test_wrong_value(tmp_path, field, value, expected, found):
    folder = make_bundle(tmp_path, **{field: value})
    with pytest.raises(ModelError, match=fails(folder / "manifest.json", f"expected {field}",
                                               expected, "found " + found)):
        load_manifest(folder)


def test_latent_range_pair_order(tmp_path):
    folder = make_bundle(tmp_path, latent_range=[[0, 1]] * 5 + [[2, 1]] + [[0, 1]] * 2)
    with pytest.raises(ModelError, match=fails(folder / "manifest.json", "latent_range[5]",
                                               "min <= max", "latent_range[5]=[2, 1]")):
        load_manifest(folder)


def test_long_values_are_shortened(tmp_path):
    folder = make_bundle(tmp_path, latent_range=list(range(100)))
    with pytest.raises(ModelError) as info:
        load_manifest(folder)
    assert len(str(info.value)) < 300 and "...(100 items)" in str(info.value).replace(" (", "(")


def test_extra_keys_are_allowed(tmp_path):
    assert load_manifest(make_bundle(tmp_path, future_field={"x": 1})).name == "tiny"


def test_missing_onnx_file(tmp_path):
    folder = make_bundle(tmp_path)
    (folder / "encoder.onnx").unlink()
    with pytest.raises(ModelError, match=fails(folder / "encoder.onnx", "no such file")):
        load_bundle(folder)


def test_sha256_mismatch(tmp_path):
    folder = make_bundle(tmp_path)
    data = (folder / "decoder.onnx").read_bytes()
    (folder / "decoder.onnx").write_bytes(data + b"\0")
    with pytest.raises(ModelError, match=fails(folder / "decoder.onnx", "expected sha256=",
                                               "found sha256=")):
        load_bundle(folder)


def test_corrupt_onnx(tmp_path):
    folder = make_bundle(tmp_path)
    write_file(folder, "decoder.onnx", b"this is not a protobuf \xff\xfe" * 10)
    with pytest.raises(ModelError, match=fails(folder / "decoder.onnx",
                                               " is not a valid ONNX model: ")) as info:
        load_bundle(folder)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


@pytest.mark.parametrize("kwargs,expected,found", [
    ({"dec_in": "latent"}, "one input name='z'", "input names=['latent']"),
    ({"dec_dtype": np.float64}, "input z dtype=tensor(float)", "dtype=tensor(double)"),
    ({"dec_latent": 7}, "input z shape=[batch, 8]", "shape=['batch', 7]"),
    ({"dec_batch": 1}, "input z shape=[batch, 8]", "shape=[1, 8]"),
])
def test_decoder_graph_contract(tmp_path, kwargs, expected, found):
    folder = make_bundle(tmp_path, **kwargs)
    with pytest.raises(ModelError, match=fails(folder / "decoder.onnx", expected, found)):
        load_bundle(folder)


def test_encoder_output_shape(tmp_path):
    folder = make_bundle(tmp_path, enc_out_dim=6)
    with pytest.raises(ModelError, match=fails(folder / "encoder.onnx",
                                               "output z shape=[batch, 8]", "shape=['batch', 6]")):
        load_bundle(folder)


def test_encoder_input_width_follows_input_features(tmp_path):
    # the encoder takes mag+diff1 (66 wide); a manifest saying "mag" expects 33
    folder = make_bundle(tmp_path, input_features="mag")
    with pytest.raises(ModelError, match=fails(folder / "encoder.onnx",
                                               "input mag shape=[batch, 33]", "shape=['batch', 66]")):
        load_bundle(folder)
    assert load_bundle(folder, need_encoder=False).manifest.n_features == N_BINS


def test_threads_must_be_positive(tmp_path):
    with pytest.raises(InputError, match="threads=0"):
        load_bundle(make_bundle(tmp_path), threads=0)


def test_manifest_is_frozen(tmp_path):
    m = load_manifest(make_bundle(tmp_path))
    with pytest.raises(AttributeError):
        m.name = "other"
    assert json.loads((m.folder / "manifest.json").read_text())["name"] == m.name


def test_graph_that_lies_about_its_output_shape(tmp_path):
    import onnx

    from model_bundles import build_mlp
    # declares mag [batch, 33] but computes 34 bins; onnxruntime's shape inference
    # turns the conflict into an unknown width, which the contract refuses
    model = onnx.load_from_string(build_mlp("z", LATENT, "mag", N_BINS + 1))
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = N_BINS
    folder = make_bundle(tmp_path)
    write_file(folder, "decoder.onnx", model.SerializeToString())
    with pytest.raises(ModelError, match=fails(folder / "decoder.onnx", "output mag shape=[batch, 33]",
                                               "shape=['batch', None]")):
        load_bundle(folder)


def _add_variant(folder, name="int8", files=("decoder",)):
    """List copies of the fp32 graphs as a variant (their bytes are valid graphs)."""
    import hashlib
    m = json.loads((folder / "manifest.json").read_text())
    entries = {}
    for stem in files:
        data = (folder / f"{stem}.onnx").read_bytes()
        (folder / f"{stem}.{name}.onnx").write_bytes(data)
        entries[f"{stem}.{name}.onnx"] = {"sha256": hashlib.sha256(data).hexdigest()}
    m["variants"] = {name: entries}
    write_manifest(folder, m)
    return m


def test_variant_loads_in_place_of_fp32(tmp_path):
    folder = make_bundle(tmp_path / "b")
    _add_variant(folder)
    b = load_bundle(folder, variant="int8")
    assert b.manifest.variants["int8"]["decoder.onnx"][0] == "decoder.int8.onnx"
    assert b.decode(np.zeros(LATENT, np.float32)).shape == (N_BINS,)


def test_unknown_variant_is_refused(tmp_path):
    folder = make_bundle(tmp_path / "b")
    with pytest.raises(ModelError, match=r"expected variants to list 'int8', found variants=\[\]"):
        load_bundle(folder, variant="int8")


def test_variant_file_hash_is_checked(tmp_path):
    folder = make_bundle(tmp_path / "b")
    _add_variant(folder)
    (folder / "decoder.int8.onnx").write_bytes(b"changed")
    with pytest.raises(ModelError, match=r"decoder\.int8\.onnx: expected sha256="):
        load_bundle(folder, variant="int8")


def test_variant_must_list_its_decoder(tmp_path):
    folder = make_bundle(tmp_path / "b")
    _add_variant(folder, files=("encoder",))
    with pytest.raises(ModelError, match=r"expected variants\['int8'\] to be an object with keys "
                                         r"among .* including decoder\.int8\.onnx"):
        load_manifest(folder)
