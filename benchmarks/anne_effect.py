"""ANNe effect: exact latency, identity quality and cost, for each ANNe bundle.

For every bundle given (default ``models/anne`` and ``models/anne-48k``), at a
48 kHz device rate and 256-sample blocks (the 22.05 kHz bundle runs through the
engine's streaming resampler, its delay included):

* latency: the reported ``latency_samples`` against the delay measured by
  cross-correlation, for an impulse and for a real recording (espeak-ng
  speech), at ``wet`` 0 and 1 (gains 1);
* identity quality: SC (dB) of the output magnitude against the input's
  (latency removed, 4096/1024 STFT at 48 kHz) with gains 1 and wet 1, on
  held-out corpus audio (test-split patches of ``export/corpus``) and on real
  recordings (espeak-ng speech, FluidR3 GM instruments through fluidsynth);
* cost: DSP time per 256-sample block (median, p99) and real-time factor,
  a knob turning all the time.

Writes ``benchmarks/results/anne_effect.json`` / ``.png``.
Usage: ``python benchmarks/anne_effect.py [--model DIR ...]``
"""

import argparse
import gc
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _signals import music_signals, speech_signals  # noqa: E402
from rtsynth.dsp import spectral_convergence, stft  # noqa: E402
from rtsynth.engine import AnneEffect  # noqa: E402
from rtsynth.errors import RtsynthError  # noqa: E402
from rtsynth.model import load_bundle  # noqa: E402

SR, BLOCK = 48000, 256
TARGET_MS = 30.0  # issue 5: low-latency bundle, input to output at 48 kHz / 256


def run(fx, x, block=BLOCK):
    """Stream ``x`` through ``fx`` block by block; return the output (same length)."""
    y = np.zeros(len(x) + fx.latency_samples + block, np.float32)
    xin = np.zeros(len(y), np.float32)
    xin[:len(x)] = x
    for i in range(0, len(y) - block + 1, block):
        fx.process(xin[i:i + block], out=y[i:i + block])
    return y


def measured_delay(x, y):
    """Lag (samples) of the cross-correlation peak of ``y`` against ``x``."""
    n = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    c = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)
    return int(np.argmax(c[:len(y)]))


def latency(bundle, speech):
    rows = []
    impulse = np.zeros(SR // 2, np.float32)
    impulse[1000] = 0.9
    for name, x in (("impulse", impulse), ("speech", speech)):
        for wet in (0.0, 1.0):
            fx = AnneEffect(bundle, sample_rate=SR, wet=wet, max_block=BLOCK)
            y = run(fx, x)
            rows.append({"signal": name, "wet": wet, "reported": fx.latency_samples,
                         "measured": measured_delay(x, y)})
    return rows


def identity(bundle, signals):
    rows = []
    for name, category, x in signals:
        fx = AnneEffect(bundle, sample_rate=SR, wet=1.0, max_block=BLOCK)
        y = run(fx, x)[fx.latency_samples:fx.latency_samples + len(x)]
        S, Y = (np.abs(stft(np.asarray(a, np.float64), 4096, 1024)) for a in (x, y))
        rows.append({"signal": name, "category": category,
                     "sc_db": float(spectral_convergence(S, Y))})
    return rows


def cost(bundle, seconds=5.0):
    fx = AnneEffect(bundle, sample_rate=SR, max_block=BLOCK)
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(int(seconds * SR))).astype(np.float32)
    out = np.zeros(BLOCK, np.float32)
    times = []
    gc.disable()
    try:
        for b, i in enumerate(range(0, len(x) - BLOCK + 1, BLOCK)):
            fx.set_knob(b % 5, 1.0 + 2.0 * (0.5 + 0.5 * np.sin(b / 40)))
            t = time.perf_counter_ns()
            fx.process(x[i:i + BLOCK], out=out)
            times.append(time.perf_counter_ns() - t)
    finally:
        gc.enable()
    us = np.asarray(times[20:]) / 1e3
    period = 1e6 * BLOCK / SR
    return {"median_us": float(np.median(us)), "p99_us": float(np.percentile(us, 99)),
            "load_median": float(np.median(us) / period),
            "load_p99": float(np.percentile(us, 99) / period),
            "rtf": float(np.mean(us) / period)}


def corpus_audio(limit=4):
    """Held-out (test split) patches of the thesis corpus, resampled to 48 kHz."""
    root = ROOT / "export" / "corpus"
    try:
        m = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return []
    out = []
    for pid in m["splits"]["test"][:limit]:
        path = root / "anne" / "5oct" / "audio" / f"patch_{pid:02d}.wav"
        if path.is_file():
            a, sr = sf.read(path, dtype="float64", always_2d=True)
            a = soxr.resample(a.mean(axis=1), sr, SR)[:6 * SR]
            out.append((f"corpus-test-patch-{pid:02d}", "corpus", (0.9 * a / np.abs(a).max())
                        .astype(np.float32)))
    return out


def real_recordings():
    out = []
    for group in (speech_signals(SR), music_signals(SR)):
        sigs, _missing = group
        out += [(n, c, a.astype(np.float32)) for n, c, a, _ in sigs if "dc-rumble" not in n]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs="+", default=[str(ROOT / "models" / "anne"),
                                                  str(ROOT / "models" / "anne-48k")])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    try:
        bundles = [load_bundle(p, need_encoder=True) for p in args.model]
    except RtsynthError as e:
        print(f"anne_effect: {e}", file=sys.stderr)
        return 1
    signals = corpus_audio() + real_recordings()
    speech = next(a for n, c, a in signals if c == "speech")
    res = {"benchmark": "anne_effect", "date": time.strftime("%Y-%m-%d"),
           "machine": platform.processor() or platform.machine(), "device_rate": SR,
           "block": BLOCK, "bundles": []}
    for b in bundles:
        m = b.manifest
        folder = m.folder.resolve()
        r = {"model": str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT)
             else str(folder), "sample_rate": m.sample_rate, "n_fft": m.n_fft, "hop": m.hop,
             "metrics": {k: m.metrics.get(k) for k in ("valid_mse", "test_mse", "epochs")}}
        r["latency"] = latency(b, speech)
        r["latency_ms"] = 1000.0 * r["latency"][0]["reported"] / SR
        r["identity"] = identity(b, signals)
        r["cost"] = cost(b)
        res["bundles"].append(r)
        worst = max(abs(x["measured"] - x["reported"]) for x in r["latency"])
        by_cat = {c: np.mean([x["sc_db"] for x in r["identity"] if x["category"] == c])
                  for c in sorted({x["category"] for x in r["identity"]})}
        print(f"{r['model']}: latency {r['latency'][0]['reported']} samples "
              f"({r['latency_ms']:.1f} ms), measured within {worst} samples; identity SC "
              + ", ".join(f"{c} {v:.1f} dB" for c, v in by_cat.items())
              + f"; {r['cost']['median_us']:.0f} / {r['cost']['p99_us']:.0f} µs per block "
              f"(load {100 * r['cost']['load_median']:.1f} % / p99 "
              f"{100 * r['cost']['load_p99']:.1f} %)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "anne_effect.json").write_text(json.dumps(res, indent=1, default=float))
    _plot(res, out / "anne_effect.png")
    print(f"wrote {out / 'anne_effect.json'}")
    return 0


def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [r["signal"] for r in res["bundles"][0]["identity"]]
    width = 0.8 / len(res["bundles"])
    for k, r in enumerate(res["bundles"]):
        a.bar(np.arange(len(names)) + k * width, [x["sc_db"] for x in r["identity"]], width,
              label=f"{r['model']} ({r['latency_ms']:.1f} ms)")
    a.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=60, ha="right",
                 fontsize=7)
    a.set(ylabel="SC output vs input (dB, lower is better)",
          title="identity (gains 1, wet 1) at 48 kHz")
    a.legend(fontsize=7)
    v = [r["model"] for r in res["bundles"]]
    b.bar(np.arange(len(v)) - 0.2, [100 * r["cost"]["load_median"] for r in res["bundles"]],
          0.4, label="median")
    b.bar(np.arange(len(v)) + 0.2, [100 * r["cost"]["load_p99"] for r in res["bundles"]],
          0.4, label="p99")
    b.set_xticks(np.arange(len(v)), v, fontsize=8)
    b.set(ylabel="DSP load (% of a 256-sample block at 48 kHz)", title="cost")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
