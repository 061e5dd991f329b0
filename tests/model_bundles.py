"""Tiny, valid-by-default model bundles for loader tests, built with the ``onnx`` helper API.

``make_bundle(folder)`` writes a bundle with n_fft=64, hop=16, latent_dim=8:
decoder z (batch, 8) -> MatMul -> Relu -> MatMul -> Sigmoid -> mag (batch, 33),
encoder mag (batch, 66, i.e. mag+diff1) -> ... -> z (batch, 8). Keyword
arguments break one thing at a time; the manifest's sha256s always match the
files written unless the test changes them afterwards.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["make_bundle", "write_manifest", "write_file", "build_mlp", "manifest_dict"]

N_FFT, HOP, LATENT = 64, 16, 8
N_BINS = N_FFT // 2 + 1
_ELEM = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}


def build_mlp(in_name, n_in, out_name, n_out, *, hidden=16, dtype=np.float32, batch="batch",
              seed=0) -> bytes:
    """Serialized ONNX model: in (batch, n_in) -> MatMul/Relu/MatMul/Sigmoid -> out (batch, n_out)."""
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.standard_normal((n_in, hidden)).astype(dtype), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((hidden, n_out)).astype(dtype), "w2")
    nodes = [helper.make_node("MatMul", [in_name, "w1"], ["h"]),
             helper.make_node("Relu", ["h"], ["hr"]),
             helper.make_node("MatMul", ["hr", "w2"], ["o"]),
             helper.make_node("Sigmoid", ["o"], [out_name])]
    elem = _ELEM[dtype]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info(in_name, elem, [batch, n_in])],
        [helper.make_tensor_value_info(out_name, elem, [batch, n_out])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # old enough for any onnxruntime >= 1.17
    onnx.checker.check_model(model)
    return model.SerializeToString()


def manifest_dict(files) -> dict:
    """A valid manifest for the default geometry; ``files`` maps name -> bytes."""
    return {
        "format_version": 1, "name": "tiny", "kind": "canne", "sample_rate": 16000,
        "n_fft": N_FFT, "hop": HOP, "window": "hann", "n_bins": N_BINS, "latent_dim": LATENT,
        "latent_range": [[0.0, 4.0]] * LATENT, "input_features": "mag+diff1",
        "frame_normalization": "max", "corpus": {"name": "test"}, "metrics": {"val_sc_db": -12.5},
        "files": {n: {"sha256": hashlib.sha256(b).hexdigest()} for n, b in files.items()},
        "presets": {"zero": [0.0] * LATENT}, "description": "a test bundle",
    }


def make_bundle(folder, *, encoder=True, dec_in="z", dec_dtype=np.float32, dec_latent=LATENT,
                dec_batch="batch", enc_out_dim=LATENT, drop=(), **fields) -> Path:
    """Write a bundle into ``folder`` and return it as a Path.

    ``dec_*`` / ``enc_out_dim`` change the graphs; ``drop`` removes manifest
    fields; any other keyword replaces that manifest field.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"decoder.onnx": build_mlp(dec_in, dec_latent, "mag", N_BINS, dtype=dec_dtype,
                                       batch=dec_batch, seed=1)}
    if encoder:
        files["encoder.onnx"] = build_mlp("mag", 2 * N_BINS, "z", enc_out_dim, seed=2)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    m = manifest_dict(files)
    m.update(fields)
    for key in drop:
        m.pop(key)
    write_manifest(folder, m)
    return folder


def write_manifest(folder, manifest: dict) -> None:
    (Path(folder) / "manifest.json").write_text(json.dumps(manifest, indent=2))


def write_file(folder, name, data: bytes) -> None:
    """Replace a bundle file and update its sha256 in the manifest, so the hash check passes."""
    folder = Path(folder)
    (folder / name).write_bytes(data)
    m = json.loads((folder / "manifest.json").read_text())
    m["files"][name] = {"sha256": hashlib.sha256(data).hexdigest()}
    write_manifest(folder, m)
