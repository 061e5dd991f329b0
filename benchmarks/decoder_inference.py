"""Decoder inference cost: one frame, one onnxruntime thread, fp32 and int8.

For each bundle (default: the shipped ``models/canne`` and ``models/anne``),
decodes single latent vectors through the preallocated IOBinding path the
audio engine uses (``ModelBundle.decoder_binding(1)``), timing every call.
``--random canne|anne`` instead exports a bundle with random weights (needs the
``export`` extra: torch) so the cost can be measured before training ends.

Writes ``benchmarks/results/decoder_inference.json`` and ``.png`` and the table
between ``<!-- decoder-table -->`` markers in README.md.

Usage: ``python benchmarks/decoder_inference.py [--model models/canne ...] [--random canne]``
"""

import argparse
import gc
import json
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rtsynth.errors import RtsynthError  # noqa: E402
from rtsynth.model import load_bundle  # noqa: E402

CALLS = 3000


def time_decoder(folder, variant):
    """Median/p99 µs of single-frame decodes through a preallocated binding."""
    bundle = load_bundle(folder, need_encoder=False, threads=1, variant=variant)
    m = bundle.manifest
    lo, hi = np.array(m.latent_range).T
    rng = np.random.default_rng(0)
    zs = (lo + (hi - lo) * rng.random((CALLS, m.latent_dim))).astype(np.float32)
    binding = bundle.decoder_binding(1)
    for z in zs[:100]:
        binding.input[0] = z
        binding.run()
    times = np.empty(CALLS)
    gc.disable()
    try:
        for i, z in enumerate(zs):
            binding.input[0] = z
            t = time.perf_counter_ns()
            binding.run()
            times[i] = time.perf_counter_ns() - t
    finally:
        gc.enable()
    us = times / 1e3
    weights = sum(int(np.prod(s)) for s in _weight_shapes(folder, variant))
    return {"model": m.name, "kind": m.kind, "variant": variant or "fp32", "n_bins": m.n_bins,
            "latent_dim": m.latent_dim, "decoder_weights": weights,
            "median_us": float(np.median(us)), "p99_us": float(np.percentile(us, 99)),
            "max_us": float(us.max()), "int8_sc_cost": m.metrics.get("int8_sc_cost"),
            "valid_sc": m.metrics.get("valid_sc")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="bundle folder (repeatable)")
    ap.add_argument("--random", choices=("canne", "anne"), action="append",
                    help="measure a random-weight bundle of this architecture")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args(argv)
    folders = [Path(f) for f in (args.model or [])]
    tmp = tempfile.TemporaryDirectory()
    for kind in args.random or []:
        folders.append(_random_bundle(kind, Path(tmp.name) / f"random-{kind}"))
    if not folders:
        folders = [p for p in (ROOT / "models" / "canne", ROOT / "models" / "anne") if p.is_dir()]
    if not folders:
        print("decoder_inference: no bundle to measure: expected models/canne or models/anne, "
              "found neither (use --random canne to measure random weights)", file=sys.stderr)
        return 1
    rows = []
    try:
        for folder in folders:
            variants = [None] + sorted(load_bundle(folder, need_encoder=False).manifest.variants)
            for v in variants:
                r = time_decoder(folder, v)
                rows.append(r)
                print(f"{r['model']:>14} {r['variant']:>5}: median {r['median_us']:7.1f} µs  "
                      f"p99 {r['p99_us']:7.1f} µs  ({r['decoder_weights'] / 1e6:.2f} M weights)")
    except RtsynthError as e:
        print(f"decoder_inference: {e}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "decoder_inference", "date": time.strftime("%Y-%m-%d"),
              "machine": platform.processor() or platform.machine(), "calls": CALLS,
              "threads": 1, "batch": 1, "rows": rows}
    (out / "decoder_inference.json").write_text(json.dumps(result, indent=1))
    _plot(rows, out / "decoder_inference.png")
    if not args.no_readme and not args.random:
        _readme(rows)
    print(f"wrote {out / 'decoder_inference.json'}")
    return 0


def _weight_shapes(folder, variant):
    import onnx
    from onnx import numpy_helper
    name = "decoder.onnx" if variant is None else f"decoder.{variant}.onnx"
    model = onnx.load(str(Path(folder) / name))
    return [numpy_helper.to_array(t).shape for t in model.graph.initializer
            if len(t.dims) == 2]


def _random_bundle(kind, folder):
    import torch
    from export.convert import convert_checkpoint
    from export.models import build_model
    n_bins, feats, sr, n_fft, hop = ((2049, "mag+diff1", 44100, 4096, 1024) if kind == "canne"
                                     else (1025, "mag", 22050, 2048, 512))
    from rtsynth.dsp import n_features
    nf = n_features(feats, n_bins)
    torch.manual_seed(0)
    model = build_model(kind, nf, n_bins)
    ckpt = {"model_state": model.state_dict(), "optimizer_state": {}, "epoch": 0,
            "config": {"kind": kind, "input_features": feats, "activation": "hybrid",
                       "n_bins": n_bins, "n_features": nf, "sample_rate": sr, "n_fft": n_fft,
                       "hop": hop, "corpus_dir": "", "seed": 0, "batch_size": 0, "lr": 0.0,
                       "l2": 0.0, "loss": "", "init": "default"},
            "history": {}, "metrics": {}}
    path = folder.parent / f"{kind}.pt"
    folder.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return convert_checkpoint(path, folder, name=f"random-{kind}", quantize=True)


def _plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [f"{r['model']}\n{r['variant']}" for r in rows]
    x = np.arange(len(rows))
    ax.bar(x, [r["median_us"] for r in rows], color=["C0" if r["variant"] == "fp32" else "C1"
                                                      for r in rows])
    ax.errorbar(x, [r["median_us"] for r in rows],
                yerr=[[0] * len(rows), [r["p99_us"] - r["median_us"] for r in rows]],
                fmt="none", ecolor="k", capsize=4)
    ax.set_xticks(x, labels)
    ax.set_ylabel("µs per single-frame decode (bar median, whisker p99)")
    ax.set_title("Decoder inference, onnxruntime, 1 thread, batch 1")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _readme(rows):
    lines = ["| model | variant | decoder weights | median µs | p99 µs | int8 SC cost |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        cost = r["int8_sc_cost"]
        lines.append(f"| {r['model']} | {r['variant']} | {r['decoder_weights'] / 1e6:.2f} M | "
                     f"{r['median_us']:.0f} | {r['p99_us']:.0f} | "
                     f"{'' if r['variant'] == 'fp32' or cost is None else f'{cost:+.4f}'} |")
    lines.append("")
    lines.append(f"Produced by `python benchmarks/decoder_inference.py` on "
                 f"{time.strftime('%Y-%m-%d')} ({CALLS} single-frame calls, 1 thread, IOBinding).")
    readme = ROOT / "README.md"
    text = readme.read_text()
    block = "<!-- decoder-table -->\n" + "\n".join(lines) + "\n<!-- /decoder-table -->"
    if "<!-- decoder-table -->" in text:
        text = re.sub(r"<!-- decoder-table -->.*?<!-- /decoder-table -->", lambda _: block,
                      text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n### Decoder inference\n\n" + block + "\n"
    readme.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
