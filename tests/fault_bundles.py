"""Bundles whose decoder breaks down (NaN) for some latents: the model-fault tests' input.

:func:`add_nan_trap` rewrites a bundle's ``decoder.onnx`` so that its output is
``mag + 0 * sqrt(threshold - z[:, index])``: unchanged while latent ``index``
stays at or below ``threshold``, all NaN above it (the square root of a
negative number). The loader's trial run feeds zeros, so the bundle loads.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["add_nan_trap"]


def add_nan_trap(folder, index, threshold=0.5):
    """Make ``folder``'s decoder output NaN when latent ``index`` > ``threshold``; return folder."""
    folder = Path(folder)
    path = folder / "decoder.onnx"
    model = onnx.load(str(path))
    graph = model.graph
    out = graph.output[0].name  # "mag"
    for node in graph.node:
        node.output[:] = [o + "_clean" if o == out else o for o in node.output]
    graph.initializer.extend([numpy_helper.from_array(np.array([index], np.int64), "trap_idx"),
                              numpy_helper.from_array(np.array(threshold, np.float32), "trap_t"),
                              numpy_helper.from_array(np.array(0.0, np.float32), "trap_zero")])
    graph.node.extend([
        helper.make_node("Gather", [graph.input[0].name, "trap_idx"], ["trap_z"], axis=1),
        helper.make_node("Sub", ["trap_t", "trap_z"], ["trap_d"]),
        helper.make_node("Sqrt", ["trap_d"], ["trap_s"]),
        helper.make_node("Mul", ["trap_s", "trap_zero"], ["trap_nan"]),
        helper.make_node("Add", [out + "_clean", "trap_nan"], [out]),
    ])
    data = model.SerializeToString()
    path.write_bytes(data)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["decoder.onnx"] = {"sha256": hashlib.sha256(data).hexdigest()}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return folder
