"""A CANNe-shaped bundle whose decoder makes known harmonic spectra (for engine tests).

The decoder is ``mag = z @ W`` (one MatMul, then Relu) where row i of W is the
Hann-windowed magnitude spectrum of a harmonic tone at ``f0`` with timbre i
(different harmonic roll-offs and odd/even balance). With z = e_i the decoder
outputs timbre i exactly, so pitch, level and latent response can be checked
against known answers without a trained model.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["make_synth_bundle", "make_identity_bundle", "timbre_spectra"]


def timbre_spectra(n_fft, sample_rate, f0, latent_dim):
    """(latent_dim, n_bins) float32: row i = |rfft(hann * tone_i)| / max, tone_i at f0."""
    n = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    rows = []
    for i in range(latent_dim):
        x = np.zeros(n_fft)
        for k in range(1, int(0.45 * sample_rate / f0)):
            amp = k ** -(0.6 + 0.25 * i) * (0.3 if (i % 2 and k % 2 == 0) else 1.0)
            x += amp * np.sin(2 * np.pi * f0 * k * n / sample_rate + 0.3 * k)
        spec = np.abs(np.fft.rfft(window * x))
        rows.append(spec / spec.max())
    return np.asarray(rows, dtype=np.float32)


def make_synth_bundle(folder, *, n_fft=1024, hop=256, sample_rate=22050, f0=261.63,
                      latent_dim=8, name="harmonic"):
    """Write the bundle into ``folder`` and return its Path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    w = timbre_spectra(n_fft, sample_rate, f0, latent_dim)
    n_bins = n_fft // 2 + 1
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["z", "w"], ["m"]), helper.make_node("Relu", ["m"], ["mag"])],
        "decoder", [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent_dim])],
        [helper.make_tensor_value_info("mag", TensorProto.FLOAT, ["batch", n_bins])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data = model.SerializeToString()
    (folder / "decoder.onnx").write_bytes(data)
    presets = {f"timbre-{i}": [1.0 if j == i else 0.0 for j in range(latent_dim)]
               for i in range(latent_dim)}
    manifest = {
        "format_version": 1, "name": name, "kind": "canne", "sample_rate": sample_rate,
        "n_fft": n_fft, "hop": hop, "window": "hann", "n_bins": n_bins, "latent_dim": latent_dim,
        "latent_range": [[0.0, 1.0]] * latent_dim, "input_features": "mag",
        "frame_normalization": "max", "corpus": {"name": "synthetic harmonic tones"},
        "metrics": {}, "files": {"decoder.onnx": {"sha256": hashlib.sha256(data).hexdigest()}},
        "presets": presets, "description": f"harmonic test decoder, f0 {f0} Hz",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def make_identity_bundle(folder, *, n_fft=64, hop=16, sample_rate=16000, name="identity"):
    """An ANNe-shaped bundle whose encoder and decoder are identities (latent = n_bins).

    With knob gains of 1 the wet path then rebuilds its input exactly (to
    float32 precision), which pins down the effect's latency and dry/wet law.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_bins = n_fft // 2 + 1
    eye = numpy_helper.from_array(np.eye(n_bins, dtype=np.float32), "eye")
    files = {}
    for part, i, o in (("encoder", "mag", "z"), ("decoder", "z", "mag")):
        graph = helper.make_graph(
            [helper.make_node("MatMul", [i, "eye"], ["m"]), helper.make_node("Relu", ["m"], [o])],
            part, [helper.make_tensor_value_info(i, TensorProto.FLOAT, ["batch", n_bins])],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", n_bins])], [eye])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        files[f"{part}.onnx"] = model.SerializeToString()
        (folder / f"{part}.onnx").write_bytes(files[f"{part}.onnx"])
    manifest = {
        "format_version": 1, "name": name, "kind": "anne", "sample_rate": sample_rate,
        "n_fft": n_fft, "hop": hop, "window": "hann", "n_bins": n_bins, "latent_dim": n_bins,
        "latent_range": [[0.0, 1.0]] * n_bins, "input_features": "mag",
        "frame_normalization": "max", "corpus": {"name": "none: identity"}, "metrics": {},
        "files": {k: {"sha256": hashlib.sha256(v).hexdigest()} for k, v in files.items()},
        "description": "identity autoencoder for effect tests",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder
