"""Convert trained ANNe/CANNe weights into an ONNX model bundle (design.md, "Model bundle
contract").

A training checkpoint (:func:`export.train.train`) or a thesis-named ``.npz`` weight dump
goes one path: export ``encoder.onnx``/``decoder.onnx`` (opset 17, dynamic ``batch`` axis)
into a temporary folder, check onnxruntime against torch on validation frames, measure
latent ranges on the train split, encode presets from held-out (test) frames, write
``manifest.json``, load it with :func:`rtsynth.model.load_bundle`, then rename into place.

Usage (from the repository root)::

    python -m export.convert checkpoint export/runs/canne/checkpoint.pt --out models/canne \\
        --name canne [--corpus export/corpus/canne/5oct] [--quantize]
    python -m export.convert npz W.npz --kind anne --out models/anne --name anne \\
        --sample-rate 22050 --n-fft 2048 --hop 512 [--corpus export/corpus/anne/5oct]
"""

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper

from export.models import build_model
from rtsynth.dsp import F0Estimator, frame_features, n_features
from rtsynth.errors import ModelError, RtsynthError
from rtsynth.model import load_bundle

__all__ = ["convert_checkpoint", "convert_npz", "main", "OPSET", "PARITY_TOL", "PARITY_FRAMES",
           "PRESET_PATCHES"]

OPSET = 17
# max diff allowed between onnxruntime and torch, relative to the output's scale
# (max(1, max |output|)): absolute for the decoder's magnitudes (<= ~1); for an
# encoder whose latents reach ~100, float32 rounding alone is ~1e-5 absolute
PARITY_TOL = 1e-5
PARITY_FRAMES = 1000   # validation frames used for the parity check
PRESET_PATCHES = 6     # held-out (test) patches whose median latents become presets
QUANT_MIN_WEIGHTS = 100_000  # smaller layers always stay float32 in the int8 variant
INT8_MAX_SC_COST = 0.005     # the int8 decoder may cost at most this much SC (issue 3)
_BATCH = 4096


def convert_checkpoint(checkpoint, out_dir, *, name, corpus_dir=None, quantize=False,
                       presets=None) -> Path:
    """Export a training checkpoint as a bundle folder ``out_dir``.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        ``checkpoint.pt`` written by :func:`export.train.train`.
    out_dir : str or os.PathLike
        Bundle folder; replaced atomically when it already holds a bundle.
    name : str
        The manifest's ``name``.
    corpus_dir : str or os.PathLike, optional
        Corpus folder (``frames_{train,valid,test}.npy``); default the checkpoint's own.
    quantize : bool
        Also write int8 variants (``encoder.int8.onnx``, ``decoder.int8.onnx``).
    presets : dict of str -> list of float, optional
        Latent presets; default the median latents of held-out patches plus ``mid``.

    Returns
    -------
    pathlib.Path
        ``out_dir``. Raises ModelError when onnxruntime and torch disagree by more than
        :data:`PARITY_TOL` (naming the max diff) or the data do not fit the model.
    """
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cfg = ckpt["config"]
    kw = {"activation": cfg.get("activation", "hybrid")} if cfg["kind"] == "anne" else {}
    model = build_model(cfg["kind"], cfg["n_features"], cfg["n_bins"], **kw)
    model.load_state_dict(ckpt["model_state"])
    fields = {k: cfg[k] for k in ("kind", "sample_rate", "n_fft", "hop", "input_features")}
    fields["training"] = {k: cfg.get(k) for k in ("activation", "seed", "batch_size", "lr", "l2",
                                                  "loss") if k in cfg}
    fields["metrics"] = {k: v for k, v in ckpt.get("metrics", {}).items()
                         if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return _export_bundle(model, out_dir, name, fields, corpus_dir or cfg["corpus_dir"],
                          quantize, presets)


def convert_npz(npz_path, out_dir, *, kind, name, manifest_fields, corpus_dir=None,
                quantize=False, presets=None) -> Path:
    """Export a plain weight dump, named as in the thesis TensorFlow code, as a bundle.

    Naming: ``W_fc1``, ``W_fc2``, ... ``W_fcN`` are the N fully connected layers in
    order (encoder first, then decoder: N = 8 for ANNe, 16 for CANNe), each shaped
    ``(in, out)`` as TensorFlow stores it (``y = x @ W``); they are transposed into the
    torch ``(out, in)`` layout. Biases are optional but all-or-none: ``b_fc1`` ... ``b_fcN``
    (shape ``(out,)``), or the thesis CANNe names ``b0`` ... ``b{N-1}``. Any other key is
    an error, as is a missing layer or a shape that does not fit the model.

    Parameters
    ----------
    npz_path : str or os.PathLike
    out_dir : str or os.PathLike
    kind : {'anne', 'canne'}
    name : str
    manifest_fields : dict
        ``sample_rate``, ``n_fft``, ``hop`` (required); optional ``input_features``
        (default ``mag`` for ANNe, ``mag+diff1`` for CANNe), ``activation`` (ANNe,
        default ``hybrid``), ``metrics`` (name -> number), ``description``.
    corpus_dir, quantize, presets
        As in :func:`convert_checkpoint`. Without a corpus, parity and latent ranges are
        measured on seeded random max-normalised frames and ``corpus.path`` is null.
    """
    f = dict(manifest_fields)
    feats = f.get("input_features", "mag+diff1" if kind == "canne" else "mag")
    n_bins = int(f["n_fft"]) // 2 + 1
    with np.load(npz_path) as data:
        bias = any(k.startswith("b") for k in data.files)
    kw = {"activation": f.get("activation", "hybrid")} if kind == "anne" else {}
    model = build_model(kind, n_features(feats, n_bins), n_bins, bias=bias, **kw)
    _load_tf(model, npz_path)
    fields = {"kind": kind, "input_features": feats, "training": {"source": str(npz_path), **kw},
              **{k: f[k] for k in ("sample_rate", "n_fft", "hop", "metrics", "description")
                 if k in f}}
    return _export_bundle(model, out_dir, name, fields, corpus_dir, quantize, presets)


def main(argv=None) -> int:
    """Command-line entry: ``python -m export.convert {checkpoint,npz} ...``."""
    ap = argparse.ArgumentParser(prog="python -m export.convert",
                                 description="Convert trained weights into an ONNX bundle.")
    sub = ap.add_subparsers(dest="source", required=True)
    for src in ("checkpoint", "npz"):
        p = sub.add_parser(src)
        p.add_argument("path")
        p.add_argument("--out", required=True, help="bundle folder, e.g. models/canne")
        p.add_argument("--name", required=True)
        p.add_argument("--corpus", help="corpus folder (default: the checkpoint's)")
        p.add_argument("--quantize", action="store_true", help="also write int8 variants")
    p.add_argument("--kind", required=True, choices=("anne", "canne"))
    for opt in ("--sample-rate", "--n-fft", "--hop"):
        p.add_argument(opt, type=int, required=True)
    p.add_argument("--input-features")
    p.add_argument("--activation", default="hybrid")
    a = ap.parse_args(argv)
    common = dict(name=a.name, corpus_dir=a.corpus, quantize=a.quantize)
    try:
        if a.source == "checkpoint":
            out = convert_checkpoint(a.path, a.out, **common)
        else:
            f = {"sample_rate": a.sample_rate, "n_fft": a.n_fft, "hop": a.hop}
            f.update({"input_features": a.input_features} if a.input_features else {})
            f.update({"activation": a.activation} if a.kind == "anne" else {})
            out = convert_npz(a.path, a.out, kind=a.kind, manifest_fields=f, **common)
    except RtsynthError as e:
        ap.exit(1, f"error: {e}\n")
    m = json.loads((Path(out) / "manifest.json").read_text())
    print(f"{out}: " + ", ".join(f"{k}={v:.3g}" for k, v in m["metrics"].items()))
    return 0


# --------------------------------------------------------------------------- helpers


def _export_bundle(model, out_dir, name, fields, corpus_dir, quantize, presets):
    model, out, feats = model.float().eval(), Path(out_dir), fields["input_features"]
    n_bins, latent = int(fields["n_fft"]) // 2 + 1, model.decoder[0].in_features
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise ModelError(f"{out}: expected a bundle folder or nothing to replace, "
                         f"found other files.")
    split, corpus = _corpus(corpus_dir, n_bins, fields["sample_rate"])
    valid = np.asarray(split("valid")[0][:PARITY_FRAMES], np.float32)
    x = frame_features(valid, feats).astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        metrics, sess, inp = dict(fields.get("metrics", {})), {}, x
        for part, net, i, o in (("encoder", model.encoder, "mag", "z"),
                                ("decoder", model.decoder, "z", "mag")):
            _onnx_export(net, i, o, tmp / f"{part}.onnx")
            sess[part] = _session(tmp / f"{part}.onnx")
            with torch.no_grad():
                ref = net(torch.from_numpy(inp)).numpy()
            diff = float(np.abs(_run(sess[part], i, inp) - ref).max())
            scale = max(1.0, float(np.abs(ref).max()))
            metrics[f"onnx_{part}_max_abs_diff"] = diff
            metrics[f"onnx_{part}_max_rel_diff"] = diff / scale
            if not diff <= PARITY_TOL * scale:
                raise ModelError(f"{part}.onnx: expected onnxruntime to match torch within "
                                 f"{PARITY_TOL:g} x max(1, max|output|={scale:.3g}) on {len(x)} "
                                 f"validation frames, found max abs diff {diff:.3g}.")
            inp = ref  # the decoder is checked on torch's own latents
        lo, hi = np.full(latent, np.inf), np.full(latent, -np.inf)
        train = split("train")[0]
        for i in range(0, len(train), _BATCH):
            z = _run(sess["encoder"], "mag", frame_features(np.asarray(train[i:i + _BATCH]), feats))
            lo, hi = np.minimum(lo, z.min(axis=0)), np.maximum(hi, z.max(axis=0))
        if presets is None:
            presets = (_test_presets(sess, split("test"), feats, fields) if corpus["path"]
                       else {"mid": (lo + hi) / 2})
        manifest = {"format_version": 1, "name": name, "kind": fields["kind"],
                    **{k: int(fields[k]) for k in ("sample_rate", "n_fft", "hop")},
                    "window": "hann", "n_bins": n_bins, "latent_dim": latent,
                    "latent_range": np.stack([lo, hi], 1).tolist(), "input_features": feats,
                    "frame_normalization": "max", "corpus": corpus,
                    "training": fields.get("training", {}), "metrics": metrics,
                    "presets": {k: [float(v) for v in vec] for k, vec in presets.items()},
                    "description": fields.get("description", "exported by export.convert")}
        if quantize:
            z = _run(sess["encoder"], "mag", x)
            manifest["variants"] = {"int8": _quantize(tmp, sess["decoder"], valid, z, metrics)}
        manifest["files"] = {f"{p}.onnx": {"sha256": _sha256(tmp / f"{p}.onnx")} for p in sess}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        load_bundle(tmp, need_encoder=True)  # self-check before anything is replaced
        os.chmod(tmp, 0o755)  # mkdtemp made it private
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
        if out.exists():
            os.replace(out, old / out.name)
        os.replace(tmp, out)
        shutil.rmtree(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _corpus(corpus_dir, n_bins, sample_rate):
    """(split name -> (frames, patch_ids), the manifest's ``corpus`` entry)."""
    if corpus_dir is None:
        frames = np.random.default_rng(0).random((PARITY_FRAMES, n_bins), dtype=np.float32) ** 4
        frames /= frames.max(axis=1, keepdims=True)
        return (lambda s: (frames, None)), {"path": None, "note": "no corpus: parity and "
                                            "latent_range from 1000 seeded random frames"}
    d = Path(corpus_dir)

    def split(s):
        return np.load(d / f"frames_{s}.npy", mmap_mode="r"), np.load(d / f"patch_ids_{s}.npy")
    if not (d / "frames_valid.npy").is_file() or split("valid")[0].shape[1] != n_bins:
        raise ModelError(f"{d}: expected a corpus folder with frames_{{train,valid,test}}.npy of "
                         f"{n_bins} bins (the model's), found none or another width.")
    entry = {"path": str(corpus_dir),
             "splits": {s: len(split(s)[0]) for s in ("train", "valid", "test")}}
    try:
        cm = json.loads((d.resolve().parent.parent / "manifest.json").read_text())
        c = cm["outputs"][f"{d.resolve().parent.name}/{d.resolve().name}"]
        entry.update(seed=cm["seed"], n_patches=cm["n_patches"], splits=c["frames"])
    except (OSError, ValueError, KeyError):
        return split, entry
    if c["sr"] != sample_rate:
        raise ModelError(f"{d}: expected sample_rate={sample_rate} (the model's), "
                         f"found sr={c['sr']}.")
    return split, entry


def _test_presets(sess, test, feats, fields):
    """Presets: median latents of held-out patches, the most harmonic decodes first.

    Every test patch is encoded (median latent over its frames) and decoded; the
    decoded frame's harmonicity (:class:`rtsynth.dsp.F0Estimator`) ranks them, because
    an instrument's default must have a pitch its notes can move. From the
    ``3 * PRESET_PATCHES`` most harmonic, ``PRESET_PATCHES`` spread over spectral
    centroid (dark to bright) are kept, the most harmonic of all first.
    """
    frames, ids = test
    pids = np.unique(ids)
    z = np.stack([np.median(_run(sess["encoder"], "mag", frame_features(
        np.asarray(frames[ids == p], np.float32), feats)), axis=0) for p in pids])
    mags = _run(sess["decoder"], "z", z.astype(np.float32)).astype(np.float64)
    est = F0Estimator(int(fields["n_fft"]), float(fields["sample_rate"]))
    harm = np.zeros(len(mags))
    for i, m in enumerate(mags):
        est.estimate(m)
        harm[i] = est.harmonicity
    centroid = (mags * np.arange(mags.shape[1])).sum(1) / np.maximum(mags.sum(1), 1e-12)
    pool = np.argsort(-harm, kind="stable")[:3 * PRESET_PATCHES]
    by_centroid = pool[np.argsort(centroid[pool], kind="stable")]
    keep = by_centroid[np.unique(np.linspace(0, len(pool) - 1, min(PRESET_PATCHES, len(pool)))
                                 .round().astype(int))]
    keep = sorted(set(keep) | {pool[0]}, key=lambda i: (i != pool[0], centroid[i]))
    return {f"test-patch-{pids[i]:03d}": z[i] for i in keep}


def _quantize(tmp, dec, valid, z, metrics):
    """int8 variants of both graphs; records int8_sc_cost (mean per-frame SC, int8 - fp32).

    The decoder keeps its smallest layers in float32, one more at a time,
    until the measured SC cost is at most INT8_MAX_SC_COST (or every layer is
    float32, which is then reported): how sensitive a layer is depends on the
    trained weights, so the converter measures rather than guesses.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    sc = lambda y: float(np.mean(np.linalg.norm(valid - y, axis=1)  # noqa: E731
                                 / np.linalg.norm(valid, axis=1)))
    base = sc(_run(dec, "z", z))
    files = {}
    for part in ("encoder", "decoder"):
        src, dst = tmp / f"{part}.matmul.onnx", tmp / f"{part}.int8.onnx"
        model = _gemm_to_matmul(onnx.load(tmp / f"{part}.onnx"))
        order = _matmuls_by_size(model)  # names unnamed nodes: before saving
        onnx.save(model, src)
        keep = sum(1 for _, size in order if size < QUANT_MIN_WEIGHTS)
        while True:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=[name for name, _ in order[:keep]])
            if part == "encoder" or keep >= len(order):
                break
            cost = sc(_run(_session(dst), "z", z)) - base
            if cost <= INT8_MAX_SC_COST:
                break
            keep += 1
        src.unlink()
        files[dst.name] = {"sha256": _sha256(dst)}
        metrics[f"int8_{part}_float32_layers"] = keep
    int8 = sc(_run(_session(tmp / "decoder.int8.onnx"), "z", z))
    metrics.update(onnx_valid_sc=base, int8_valid_sc=int8, int8_sc_cost=int8 - base)
    return files


def _matmuls_by_size(model):
    """(name, weight count) of every MatMul with a constant weight, smallest first.

    Dynamic quantization gives each activation tensor one uint8 range; in the
    narrow layers around CANNe's 8-unit bottleneck activations span 0..~200
    and small values round to 0 (all layers int8: SC cost 0.46 measured).
    Those layers hold almost no weights, so they are the ones to keep in
    float32 first.
    """
    inits = {t.name: t for t in model.graph.initializer}
    found = []
    for i, n in enumerate(model.graph.node):
        if not n.name:
            n.name = f"{n.op_type.lower()}_{i}"
        if n.op_type == "MatMul" and n.input[1] in inits:
            found.append((n.name, int(np.prod(inits[n.input[1]].dims))))
    return sorted(found, key=lambda item: item[1])


def _gemm_to_matmul(model):
    # onnxruntime's dynamic quantizer handles MatMul, not Gemm: Gemm(x, W, b) -> MatMul + Add
    inits, nodes = {t.name: t for t in model.graph.initializer}, []
    for n in model.graph.node:
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        plain = not a.get("transA") and a.get("alpha", 1) == 1 and a.get("beta", 1) == 1
        if n.op_type != "Gemm" or not plain:
            nodes.append(n)
            continue
        w = numpy_helper.to_array(inits[n.input[1]])
        w = np.ascontiguousarray(w.T if a.get("transB") else w)
        inits[n.input[1]].CopyFrom(numpy_helper.from_array(w, n.input[1]))
        mm = [n.output[0] + "_mm"] if len(n.input) > 2 else list(n.output)
        nodes.append(helper.make_node("MatMul", n.input[:2], mm))
        if len(n.input) > 2:
            nodes.append(helper.make_node("Add", [mm[0], n.input[2]], n.output))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def _onnx_export(net, inp, outp, path):
    with warnings.catch_warnings():  # the legacy (TorchScript) exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.zeros(2, net[0].in_features), str(path), input_names=[inp],
                          output_names=[outp], dynamic_axes={inp: {0: "batch"}, outp: {0: "batch"}},
                          opset_version=OPSET, dynamo=False)


def _session(path):
    opts = ort.SessionOptions()  # the optimisation level rtsynth.model's loader uses
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _run(session, name, x):
    x = np.ascontiguousarray(x, np.float32)
    return np.concatenate([session.run(None, {name: x[i:i + _BATCH]})[0]
                           for i in range(0, max(len(x), 1), _BATCH)])


def _load_tf(model, path):
    """Copy thesis-named arrays (W_fc{i} as (in, out), optional b_fc{i} / b{i-1}) into ``model``."""
    with np.load(path) as data:
        arrays = dict(data)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    n, bias = len(linears), model.encoder[0].bias is not None
    names = {f"W_fc{i}": (i, "weight") for i in range(1, n + 1)}
    names.update({f"{k}": (i, "bias") for i in range(1, n + 1) for k in (f"b_fc{i}", f"b{i - 1}")}
                 if bias else {})
    got = {names[k]: v for k, v in arrays.items() if k in names}
    if set(arrays) - set(names) or len(got) != n * (1 + bias):
        raise ModelError(f"{path}: expected arrays W_fc1..W_fc{n}" + (f" and b_fc1..b_fc{n}" if bias
                         else "") + f" for this model, found keys {sorted(arrays)}.")
    with torch.no_grad():
        for i, lin in enumerate(linears, 1):
            w, b = got[i, "weight"], got.get((i, "bias"))
            if w.shape != (lin.in_features, lin.out_features):
                raise ModelError(f"{path}: expected W_fc{i} of shape "
                                 f"{(lin.in_features, lin.out_features)}, found {w.shape}.")
            lin.weight.copy_(torch.from_numpy(np.asarray(w, np.float32).T))
            if b is not None:
                lin.bias.copy_(torch.from_numpy(np.asarray(b, np.float32).reshape(-1)))


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
