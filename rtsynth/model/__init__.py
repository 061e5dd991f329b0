"""rtsynth.model: ONNX model bundles (manifest validation and onnxruntime sessions).

Imports only rtsynth.errors, numpy, onnxruntime and the standard library;
building bundles (torch, onnx) belongs to export/.
"""

from .bundle import Binding, ModelBundle, load_bundle
from .manifest import Manifest, load_manifest

__all__ = ["load_bundle", "load_manifest", "ModelBundle", "Manifest", "Binding"]
