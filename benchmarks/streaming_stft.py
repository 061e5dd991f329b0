"""Streaming STFT / overlap-add: exactness, latency and cost per block.

For each (n_fft, hop) and block size, a 10 s noise signal goes through
:class:`rtsynth.dsp.StftProcessor` (analysis -> unmodified frames ->
overlap-add); the output is compared with the input delayed by the reported
``latency_samples`` and the wall time per block is recorded.

Writes ``benchmarks/results/streaming_stft.json`` and ``.png``.

Usage: ``python benchmarks/streaming_stft.py [--seconds 10]``
"""

import argparse
import gc
import json
import platform
import time
from pathlib import Path

import numpy as np

from rtsynth.dsp import StftProcessor

GEOMETRIES = [(4096, 1024), (4096, 256), (2048, 512), (1024, 256)]
BLOCKS = [1, 64, 65, 256, 1000, 8193]
SR = 44100


def measure(n_fft, hop, block, x):
    """Max reconstruction error, latency and per-block µs of one configuration."""
    proc = StftProcessor(n_fft, hop)
    out = np.empty_like(x)
    times = []
    gc.disable()
    try:
        for start in range(0, x.size, block):
            stop = min(x.size, start + block)
            t = time.perf_counter_ns()
            proc.process(x[start:stop], out=out[start:stop])
            times.append(time.perf_counter_ns() - t)
    finally:
        gc.enable()
    d = proc.latency_samples
    err = float(np.max(np.abs(out[d:] - x[:-d])))
    us = np.asarray(times[10:] or times) / 1e3
    return {"n_fft": n_fft, "hop": hop, "block": block, "latency_samples": d,
            "latency_ms_at_44k1": 1000 * d / SR, "max_abs_error": err,
            "us_per_block_median": float(np.median(us)), "us_per_block_p99": float(np.percentile(us, 99)),
            "us_per_sample_median": float(np.median(us) / block)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    x = np.random.default_rng(0).uniform(-1, 1, int(args.seconds * SR))
    rows = []
    for n_fft, hop in GEOMETRIES:
        for block in BLOCKS:
            r = measure(n_fft, hop, block, x if block > 1 else x[: SR * 2])
            rows.append(r)
            print(f"{n_fft}/{hop} block {block:5d}: latency {r['latency_samples']} "
                  f"err {r['max_abs_error']:.1e} {r['us_per_block_median']:.1f} us/block")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "streaming_stft", "date": time.strftime("%Y-%m-%d"),
              "machine": platform.processor() or platform.machine(), "rows": rows,
              "targets": {"latency_le_window": all(r["latency_samples"] <= r["n_fft"] for r in rows),
                          "max_error_le_1e-6": max(r["max_abs_error"] for r in rows) <= 1e-6}}
    (out / "streaming_stft.json").write_text(json.dumps(result, indent=1))
    _plot(rows, out / "streaming_stft.png")
    print(f"max error {max(r['max_abs_error'] for r in rows):.1e}; wrote {out / 'streaming_stft.json'}")


def _plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for n_fft, hop in GEOMETRIES:
        sel = [r for r in rows if r["n_fft"] == n_fft and r["hop"] == hop]
        lab = f"{n_fft}/{hop}"
        a.plot([r["block"] for r in sel], [max(r["max_abs_error"], 1e-18) for r in sel], "o-", label=lab)
        b.plot([r["block"] for r in sel], [r["us_per_sample_median"] for r in sel], "o-", label=lab)
    a.axhline(1e-6, color="r", ls="--", label="target 1e-6")
    a.set(xscale="log", yscale="log", xlabel="block size (samples)", ylabel="max |y[n+D] - x[n]|",
          title="Analysis -> synthesis reconstruction error")
    b.set(xscale="log", yscale="log", xlabel="block size (samples)", ylabel="µs per sample (median)",
          title="Cost of analysis + synthesis")
    a.legend(fontsize=8)
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
