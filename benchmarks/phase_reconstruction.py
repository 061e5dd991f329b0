"""Benchmark: magnitude-only phase reconstruction (quality and speed).

For every STFT configuration x signal x method the target magnitude
``S = |stft(x)|`` is given to a phase reconstruction, the result is resynthesised
and scored by spectral convergence ``||S - |stft(y)| ||_F / ||S||_F`` in dB
(lower is better). Streaming methods run frame by frame through ``process()``
exactly as the real-time engine calls them, and every call is timed.

Methods
-------
rtpghi0     causal RTPGHI (no lookahead)                 streaming, timed
rtpghi1     RTPGHI with one frame of lookahead            streaming, timed
thesis      the thesis' time-only phase integration       streaming, timed
random      random phase (the floor any method must beat) streaming, timed
griffinlim  librosa Griffin-Lim, 32 iterations            offline, not timed per frame

Outputs ``<out>/phase_reconstruction.json`` and ``.png`` and rewrites the table
between ``<!-- phase-table -->`` and ``<!-- /phase-table -->`` in README.md.

Usage::

    python benchmarks/phase_reconstruction.py [--quick] [--configs 4096/1024,4096/256,2048/512]
        [--methods rtpghi0,rtpghi1,thesis,random,griffinlim] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import inspect
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks import _signals as sig  # noqa: E402

__all__ = [
    "STREAMING", "OFFLINE", "METHODS", "TARGETS", "REFERENCE",
    "parse_configs", "make_phase", "run_streaming", "score_streaming",
    "score_griffinlim", "benchmark", "measure", "summarise", "plot_results",
    "markdown_table", "update_readme", "main",
]

STREAMING = ("rtpghi0", "rtpghi1", "thesis", "random")
OFFLINE = ("griffinlim",)
METHODS = STREAMING + OFFLINE
LABELS = {"rtpghi0": "RTPGHI(0)", "rtpghi1": "RTPGHI(1)", "thesis": "thesis integration",
          "random": "random phase", "griffinlim": "Griffin-Lim 32 it (offline)"}
DEFAULT_CONFIGS = "4096/1024,4096/256,2048/512"
REAL = ("music", "speech")
GL_ITERATIONS = 32
WARMUP_FRAMES = 64
MARK_BEGIN, MARK_END = "<!-- phase-table -->", "<!-- /phase-table -->"

# Acceptance targets (issue): causal RTPGHI(0) on real music + speech, and
# per-frame cost at 2049 bins including the white-noise worst case.
TARGETS = {
    "rtpghi0_real_sc_db": {"4096/1024": -21.0, "4096/256": -28.0},
    "median_us": 100.0,
    "p99_us": 300.0,
}
# phaseret C library on real recordings (mean SC dB), for comparison only.
REFERENCE = {
    "rtpghi0": {"4096/1024": -21.5, "4096/256": -29.4},
    "rtpghi1": {"4096/1024": -25.8, "4096/256": -29.9},
    "griffinlim": {"4096/1024": -22.0, "4096/256": -22.7},
    "thesis": {"4096/1024": -6.5},
    "random": {"4096/1024": -3.8},
}


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------
def parse_configs(text: str) -> list[tuple[int, int]]:
    """Parse ``"4096/1024,2048/512"`` into ``[(4096, 1024), (2048, 512)]``."""
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        m = re.fullmatch(r"(\d+)/(\d+)", item)
        if not m:
            raise argparse.ArgumentTypeError(f"config {item!r}: expected N_FFT/HOP, e.g. 4096/1024")
        out.append((int(m.group(1)), int(m.group(2))))
    return out


def parse_methods(text: str) -> list[str]:
    """Parse a comma-separated method list, keeping the canonical order."""
    chosen = {s.strip() for s in text.split(",") if s.strip()}
    unknown = chosen - set(METHODS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {sorted(unknown)}: choose from {', '.join(METHODS)}")
    return [m for m in METHODS if m in chosen]


def sample_rate_for(n_fft: int) -> int:
    """CANNe runs at 44.1 kHz with n_fft 4096; ANNe at 22.05 kHz with 2048."""
    return 44100 if n_fft >= 4096 else 22050


def key(n_fft: int, hop: int) -> str:
    return f"{n_fft}/{hop}"


# --------------------------------------------------------------------------
# streaming methods
# --------------------------------------------------------------------------
def make_phase(method: str, n_fft: int, hop: int, tol: float | None = None):
    """Construct the streaming phase reconstructor named ``method``."""
    from rtsynth.dsp import RTPGHI, RandomPhase, ThesisPhase

    if method in ("rtpghi0", "rtpghi1"):
        kw = {} if tol is None else {"tol": tol}
        return RTPGHI(n_fft, hop, lookahead=int(method[-1]), **kw)
    if method == "thesis":
        return ThesisPhase(n_fft, hop)
    if method == "random":
        return RandomPhase(n_fft, hop, seed=0)
    raise ValueError(f"method {method!r} is not a streaming method")


def run_streaming(ph, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feed magnitude frames one by one; return coefficients and call times.

    Calls ``process(mag, out=row)`` when the method accepts ``out`` -- the
    allocation-free form the audio callback uses -- so the timing is what the
    real-time path pays.

    Parameters
    ----------
    ph : phase reconstructor with ``process``, ``flush``, ``latency_frames``
    S : ndarray, shape (n_frames, n_bins), float64, C-contiguous

    Returns
    -------
    C : ndarray, complex128, same shape as ``S``, aligned with ``S`` (the
        lookahead delay is removed by dropping the first outputs and
        appending ``flush()``).
    times_ns : ndarray, int64, one entry per ``process()`` call.
    """
    n = S.shape[0]
    lat = int(ph.latency_frames)
    C = np.zeros(S.shape, dtype=np.complex128)
    scratch = np.zeros(S.shape[1], dtype=np.complex128)  # outputs before the delay fills
    times = np.empty(n, dtype=np.int64)
    clock, process = time.perf_counter_ns, ph.process
    has_out = "out" in inspect.signature(process).parameters
    gc.collect()
    gc.disable()  # a collection inside the loop would be timed as DSP cost
    try:
        for i in range(n):
            dest = C[i - lat] if i >= lat else scratch
            if has_out:
                t0 = clock()
                process(S[i], out=dest)
                times[i] = clock() - t0
            else:
                t0 = clock()
                c = process(S[i])
                times[i] = clock() - t0
                dest[:] = c  # copy: process() may reuse its output buffer
        for j in range(min(lat, n)):
            C[n - lat + j] = ph.flush()
    finally:
        gc.enable()
    return C, times


def warm_up(ph, n_bins: int, frames: int = WARMUP_FRAMES) -> None:
    """Trigger JIT compilation and fill caches before anything is timed."""
    rng = np.random.default_rng(0)
    S = np.ascontiguousarray(np.abs(rng.standard_normal((frames, n_bins))))
    run_streaming(ph, S)
    ph.reset()


def score_streaming(ph, x: np.ndarray, n_fft: int, hop: int) -> tuple[float, np.ndarray]:
    """SC (dB) of ``ph`` reconstructing ``x`` and its per-frame times (ns)."""
    from rtsynth.dsp import istft, spectral_convergence, stft

    S = np.ascontiguousarray(np.abs(stft(x, n_fft, hop)))
    ph.reset()
    C, times = run_streaming(ph, S)
    y = istft(C, n_fft, hop, length=len(x))
    sc = spectral_convergence(S, np.abs(stft(y, n_fft, hop)), db=True)
    return float(sc), times


# --------------------------------------------------------------------------
# offline reference
# --------------------------------------------------------------------------
def score_griffinlim(x: np.ndarray, n_fft: int, hop: int) -> tuple[float, float]:
    """SC (dB) of librosa Griffin-Lim (32 it.) and its wall time in seconds.

    Uses librosa's own STFT convention (``center=True``, zero padding) for
    both the target and the score, as Griffin-Lim is defined on it.
    """
    import librosa

    from rtsynth.dsp import spectral_convergence

    def mag(sig_):
        return np.abs(librosa.stft(sig_, n_fft=n_fft, hop_length=hop, window="hann",
                                   center=True, pad_mode="constant"))

    S = mag(x)
    t0 = time.perf_counter()
    y = librosa.griffinlim(S, n_iter=GL_ITERATIONS, hop_length=hop, n_fft=n_fft,
                           window="hann", center=True, init="random", random_state=0,
                           length=len(x))
    seconds = time.perf_counter() - t0
    return float(spectral_convergence(S, mag(y), db=True)), seconds


# --------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------
def time_stats(times_ns) -> dict:
    """Median / p99 / mean / max in microseconds over all frames."""
    t = np.concatenate([np.asarray(a, dtype=np.float64) for a in times_ns]) / 1e3
    if t.size == 0:
        return {"n_frames": 0}
    return {"n_frames": int(t.size), "median_us": float(np.median(t)),
            "p99_us": float(np.percentile(t, 99)), "mean_us": float(t.mean()),
            "max_us": float(t.max())}


def baseline_irfft(n_fft: int, frames: int = 2000) -> dict:
    """Per-call cost of ``np.fft.irfft`` of one frame, timed the same way.

    The machine is shared and noisy, so absolute times are paired with a
    baseline measured in the same run (see design.md, "Measuring").
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal(n_fft // 2 + 1) + 1j * rng.standard_normal(n_fft // 2 + 1)
    times = np.empty(frames, dtype=np.int64)
    clock, irfft = time.perf_counter_ns, np.fft.irfft
    gc.disable()
    try:
        for i in range(frames):
            t0 = clock()
            irfft(X, n_fft)
            times[i] = clock() - t0
    finally:
        gc.enable()
    return time_stats([times[frames // 10:]])  # drop warm-up calls


def category_means(rows: list[dict], methods: list[str]) -> dict:
    """Mean SC (dB) per method for real (music+speech), each category, all."""
    groups = {"real": REAL, "music": ("music",), "speech": ("speech",),
              "synthetic": ("synthetic",), "all": ("music", "speech", "synthetic")}
    out = {}
    for m in methods:
        out[m] = {}
        for g, cats in groups.items():
            vals = [r["sc_db"][m] for r in rows if r["category"] in cats and m in r["sc_db"]]
            out[m][g] = float(np.mean(vals)) if vals else None
    return out


def target_checks(configs: dict) -> dict:
    """Compare RTPGHI(0) against the issue's SC and speed targets."""
    checks = {}
    for cfg, goal in TARGETS["rtpghi0_real_sc_db"].items():
        got = configs.get(cfg, {}).get("mean_sc_db", {}).get("rtpghi0", {}).get("real")
        if got is not None:
            checks[f"rtpghi0 real SC {cfg} <= {goal} dB"] = {"value": got, "pass": got <= goal}
    for cfg, c in configs.items():
        if c["n_bins"] != 2049 or "rtpghi0" not in c["timing_us"]:
            continue
        for which in ("all", "white_noise"):
            st = c["timing_us"]["rtpghi0"].get(which, {})
            if not st.get("n_frames"):
                continue
            for stat in ("median_us", "p99_us"):
                goal = TARGETS[stat]
                checks[f"rtpghi0 {stat} {cfg} {which} <= {goal}"] = {
                    "value": st[stat], "pass": st[stat] <= goal}
    return checks


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------
def load_signals(sr: int, quick: bool, cache: dict, omitted: list) -> list:
    """Signals at ``sr`` (memoised); print one line per missing tool."""
    if sr not in cache:
        if quick:
            cache[sr] = sig.quick_signals(sr)
        else:
            cache[sr], om = sig.all_signals(sr)
            for o in om:
                if o.as_dict() not in omitted:
                    omitted.append(o.as_dict())
                    print(f"{o.missing} is missing ({o.reason}): skipping {o.category} "
                          f"signals; `make bench-deps` installs it", file=sys.stderr)
    return cache[sr]


def benchmark_config(n_fft: int, hop: int, signals: list, methods: list[str],
                     bar, tol: float | None) -> tuple[dict, dict]:
    """Score every signal with every method for one (n_fft, hop).

    Returns the JSON-ready results and the raw per-frame times
    ``{method: {"all": [...], "white_noise": [...]}}`` (ns) for pooling.
    """
    streaming = {m: make_phase(m, n_fft, hop, tol) for m in methods if m in STREAMING}
    for ph in streaming.values():
        warm_up(ph, n_fft // 2 + 1)
    times: dict[str, list] = {m: [] for m in streaming}
    noise_times: dict[str, list] = {m: [] for m in streaming}
    rows, gl_seconds = [], []
    for name, category, x, _sr in signals:
        row = {"name": name, "category": category, "seconds": len(x) / _sr, "sc_db": {}}
        for m in methods:
            bar.set_postfix_str(f"{key(n_fft, hop)} {name} {m}")
            if m in streaming:
                row["sc_db"][m], t = score_streaming(streaming[m], x, n_fft, hop)
                times[m].append(t)
                if name == "white-noise":
                    noise_times[m].append(t)
            else:
                row["sc_db"][m], s = score_griffinlim(x, n_fft, hop)
                gl_seconds.append(s)
            bar.update()
        rows.append(row)
    raw = {m: {"all": times[m], "white_noise": noise_times[m]} for m in streaming}
    return {
        "n_fft": n_fft, "hop": hop, "sr": signals[0][3] if signals else None,
        "n_bins": n_fft // 2 + 1, "signals": rows,
        "mean_sc_db": category_means(rows, methods),
        "timing_us": {m: {"all": time_stats(times[m]), "white_noise": time_stats(noise_times[m])}
                      for m in streaming},
        "rtpghi_tol": {m: getattr(ph, "tol", None) for m, ph in streaming.items()
                       if m.startswith("rtpghi")},
        "baseline_irfft_us": baseline_irfft(n_fft),
        "griffinlim_seconds_total": float(np.sum(gl_seconds)) if gl_seconds else None,
    }, raw


def benchmark(configs: list[tuple[int, int]], methods: list[str], quick: bool,
              tol: float | None = None) -> dict:
    """Run all configurations; return the full results dictionary."""
    from tqdm import tqdm

    cache: dict = {}
    omitted: list = []
    per_sr = {sample_rate_for(n): load_signals(sample_rate_for(n), quick, cache, omitted)
              for n, _ in configs}
    total = sum(len(per_sr[sample_rate_for(n)]) for n, _ in configs) * len(methods)
    results, pooled = {}, {}
    with tqdm(total=total, desc="phase reconstruction", unit="run") as bar:
        for n_fft, hop in configs:
            sigs = per_sr[sample_rate_for(n_fft)]
            results[key(n_fft, hop)], raw = benchmark_config(n_fft, hop, sigs, methods, bar, tol)
            _pool(pooled.setdefault(str(n_fft // 2 + 1), {}), raw)
    timing = {bins: {m: {w: time_stats(t) for w, t in d.items()} for m, d in per.items()}
              for bins, per in pooled.items()}
    return {"configs": results, "timing_by_bins_us": timing, "omitted": omitted}


def _pool(into: dict, raw: dict) -> None:
    """Append one config's raw times to the per-bin-count pool."""
    for m, d in raw.items():
        for which, arrays in d.items():
            into.setdefault(m, {}).setdefault(which, []).extend(arrays)


def machine_info() -> dict:
    """CPU, library versions, load and date: what the timings depend on."""
    import numba
    import scipy

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        import librosa
        librosa_version = librosa.__version__
    except ImportError:
        librosa_version = None
    return {
        "cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "numpy": np.__version__,
        "scipy": scipy.__version__, "numba": numba.__version__, "librosa": librosa_version,
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "git_commit": _git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def summarise(results: dict) -> None:
    """Print the per-category means and RTPGHI(0) target checks."""
    for cfg, c in results["configs"].items():
        print(f"\n{cfg} (sr {c['sr']}): mean SC dB   real / synthetic")
        for m, g in c["mean_sc_db"].items():
            print(f"  {LABELS[m]:30s} {_fmt(g['real']):>7s} / {_fmt(g['synthetic']):>7s}")
        for m, t in c["timing_us"].items():
            a, w = t["all"], t["white_noise"]
            print(f"  {LABELS[m]:30s} us/frame median {_fmt(a.get('median_us'))} "
                  f"p99 {_fmt(a.get('p99_us'))}  white noise {_fmt(w.get('median_us'))}"
                  f" / {_fmt(w.get('p99_us'))}")
    for name, chk in results.get("target_checks", {}).items():
        print(f"{'PASS' if chk['pass'] else 'FAIL'}  {name}: {chk['value']:.1f}")


def _fmt(v, nd: int = 1) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


# --------------------------------------------------------------------------
# chart
# --------------------------------------------------------------------------
def plot_results(results: dict, path: Path) -> None:
    """Grouped bars of mean SC (real | synthetic) and a per-frame timing panel."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = results["configs"]
    fig = plt.figure(figsize=(14, 10.5), constrained_layout=True)
    grid = fig.add_gridspec(3, 2, height_ratios=[0.05, 1, 1])
    for col, group, title in ((0, "real", "Real recordings (music + speech)"),
                              (1, "synthetic", "Synthetic signals")):
        ax = fig.add_subplot(grid[1, col])
        _plot_sc(ax, configs, group, title)
    legend_ax = fig.add_subplot(grid[0, :])  # own row: never covers a bar
    legend_ax.set_axis_off()
    handles, labels = ax.get_legend_handles_labels()
    legend_ax.legend(handles, labels, loc="center", ncol=len(labels), fontsize=9, frameon=False)
    _plot_timing(fig.add_subplot(grid[2, :]), configs)
    info = results["machine"]
    fig.suptitle(f"Phase reconstruction: mean spectral convergence (lower is better) and cost "
                 f"per frame — {info['cpu']}, {info['cpu_count']} cores, {info['date'][:10]}",
                 fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


METHOD_COLORS = {"rtpghi0": "#1f77b4", "rtpghi1": "#2ca02c", "thesis": "#ff7f0e",
                 "random": "#7f7f7f", "griffinlim": "#9467bd"}


def _plot_sc(ax, configs: dict, group: str, title: str) -> None:
    cfgs = list(configs)
    methods = list(next(iter(configs.values()))["mean_sc_db"]) if cfgs else []
    width = 0.8 / max(len(methods), 1)
    for j, m in enumerate(methods):
        xs = np.arange(len(cfgs)) + (j - (len(methods) - 1) / 2) * width
        vals = [configs[c]["mean_sc_db"][m][group] for c in cfgs]
        vals = [np.nan if v is None else v for v in vals]
        bars = ax.bar(xs, vals, width, color=METHOD_COLORS.get(m, "k"), label=LABELS[m])
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
        if group == "real" and m == "rtpghi0":
            _mark_targets(ax, cfgs, xs, width)
    ax.set_xticks(np.arange(len(cfgs)), [f"{c}\n(sr {configs[c]['sr']})" for c in cfgs])
    ax.set_ylabel("mean SC [dB]")
    ax.set_title(title)
    ax.axhline(0, color="k", lw=0.6)
    ax.invert_yaxis()  # better (more negative) bars grow upwards
    ax.grid(axis="y", alpha=0.3)


def _mark_targets(ax, cfgs, xs, width) -> None:
    """Short red ticks at the RTPGHI(0) targets above its bars."""
    for c, x in zip(cfgs, xs, strict=True):
        goal = TARGETS["rtpghi0_real_sc_db"].get(c)
        if goal is not None:
            ax.hlines(goal, x - width / 2, x + width / 2, colors="red", lw=2.5)
            ax.annotate(f"RTPGHI(0)\ntarget {goal:g}", (x - width / 2, goal), xytext=(-2, 0),
                        textcoords="offset points", ha="right", va="center", fontsize=7,
                        color="red")


def _plot_timing(ax, configs: dict) -> None:
    """Median bars with p99 whiskers per method, per config, all vs white noise."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    methods = list(next(iter(configs.values()))["timing_us"]) if configs else []
    if not methods:
        ax.set_axis_off()
        return
    series = [(c, which) for c in configs for which in ("all", "white_noise")]
    hues = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]
    width = 0.8 / len(series)
    lowest = np.inf
    for j, (c, which) in enumerate(series):
        xs = np.arange(len(methods)) + (j - (len(series) - 1) / 2) * width
        st = [configs[c]["timing_us"][m][which] for m in methods]
        med = np.array([s.get("median_us", np.nan) for s in st])
        p99 = np.array([s.get("p99_us", np.nan) for s in st])
        color = hues[(j // 2) % len(hues)]
        noise = which == "white_noise"
        bars = ax.bar(xs, med, width, color=color, alpha=0.55 if noise else 0.9,
                      hatch="//" if noise else None, edgecolor="white" if noise else None,
                      label=f"{c} {'white noise' if noise else 'all signals'}")
        ax.errorbar(xs, med, yerr=[np.zeros_like(med), p99 - med], fmt="none",
                    ecolor="k", elinewidth=0.8, capsize=2)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, label_type="center")
        lowest = min(lowest, np.nanmin(med))
    ax.axhline(TARGETS["median_us"], color="red", ls="--", lw=1.2,
               label=f"median target {TARGETS['median_us']:g} µs (2049 bins)")
    ax.axhline(TARGETS["p99_us"], color="red", ls=":", lw=1.5,
               label=f"p99 target {TARGETS['p99_us']:g} µs (2049 bins)")
    ax.set_yscale("log")
    ax.set_ylim(bottom=lowest / 2)  # log axis: room below so short bars stay visible
    ax.yaxis.set_major_locator(FixedLocator([5, 10, 20, 50, 100, 200, 300, 500, 1000, 2000]))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(np.arange(len(methods)), [LABELS[m] for m in methods])
    ax.set_ylabel("µs per process() call")
    ax.set_title("Cost per frame: bar = median, whisker = p99, over all frames of all signals "
                 "(hatched: white noise only, the worst case)")
    ax.grid(axis="y", alpha=0.3)
    # below the axes: never covers a bar, and keeps the SC panels full width
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4)


# --------------------------------------------------------------------------
# README table
# --------------------------------------------------------------------------
def markdown_table(results: dict, command: str) -> str:
    """Markdown table: method x (real SC per config, synthetic SC, µs/frame)."""
    configs = results["configs"]
    cfgs = list(configs)
    methods = list(next(iter(configs.values()))["mean_sc_db"]) if cfgs else []
    # timing columns: 2049 bins (the CANNe size the target is set for) if measured
    bins = 2049 if any(configs[c]["n_bins"] == 2049 for c in cfgs) else (
        configs[cfgs[0]]["n_bins"] if cfgs else None)
    tcfgs = [c for c in cfgs if configs[c]["n_bins"] == bins]
    head = (["method"] + [f"real SC {c}" for c in cfgs] + [f"synthetic SC {c}" for c in cfgs]
            + [f"µs/frame median / p99 ({bins} bins)", "white noise median / p99",
               "phaseret real 4096/1024 · /256"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in methods:
        sc_real = [_fmt(configs[c]["mean_sc_db"][m]["real"]) for c in cfgs]
        sc_syn = [_fmt(configs[c]["mean_sc_db"][m]["synthetic"]) for c in cfgs]
        t_all, t_wn = _pooled_timing(results, str(bins), m)
        ref = REFERENCE.get(m, {})
        ref_txt = " · ".join(_fmt(ref.get(c)) for c in ("4096/1024", "4096/256"))
        lines.append("| " + " | ".join([LABELS[m]] + sc_real + sc_syn + [t_all, t_wn, ref_txt])
                     + " |")
    return "\n".join(lines + [""] + _table_notes(results, command, tcfgs))


def _pooled_timing(results: dict, bins: str, m: str) -> tuple[str, str]:
    """"median / p99" over all frames of every config with ``bins`` bins."""
    per = results.get("timing_by_bins_us", {}).get(bins, {}).get(m)
    if m not in STREAMING or per is None:
        return "offline" if m in OFFLINE else "–", "offline" if m in OFFLINE else "–"
    return tuple(f"{per[w]['median_us']:.0f} / {per[w]['p99_us']:.0f}"
                 if per[w].get("n_frames") else "–" for w in ("all", "white_noise"))


def _table_notes(results: dict, command: str, tcfgs) -> list[str]:
    info = results["machine"]
    first = next(iter(results["configs"].values()))
    cats = {}
    for r in first["signals"]:
        cats[r["category"]] = cats.get(r["category"], 0) + 1
    notes = [
        "SC = 20·log10(‖S − |STFT(y)|‖F / ‖S‖F), mean over signals in dB (lower is better). "
        f"Signals per config: {', '.join(f'{k} {v}' for k, v in cats.items())} "
        "(real = music + speech; one variant per category carries DC offset + 15 Hz rumble). "
        f"Timing: µs per `process()` call over all frames of {' and '.join(tcfgs)} pooled; "
        "white noise = the worst case (no bin under tolerance).",
        "",
        f"Targets: RTPGHI(0) real SC ≤ {TARGETS['rtpghi0_real_sc_db']['4096/1024']:g} dB "
        f"at 4096/1024 and ≤ {TARGETS['rtpghi0_real_sc_db']['4096/256']:g} dB at 4096/256; "
        f"≤ {TARGETS['median_us']:g} µs median and ≤ {TARGETS['p99_us']:g} µs p99 per frame "
        "at 2049 bins, white noise included. "
        + _check_summary(results.get("target_checks", {})),
        "",
        f"Produced by `{command}` on {info['date'][:10]} ({info['cpu']}, {info['cpu_count']} "
        f"cores, numpy {info['numpy']}, numba {info['numba']}); full results in "
        "`benchmarks/results/phase_reconstruction.json`, chart in "
        "`benchmarks/results/phase_reconstruction.png`.",
    ]
    if results.get("omitted"):
        miss = ", ".join(f"{o['category']} ({o['missing']} missing)" for o in results["omitted"])
        notes += ["", f"Omitted signal groups: {miss}; `make bench-deps` installs them."]
    return notes


def _check_summary(checks: dict) -> str:
    """One sentence: which targets were met, missed, or could not be measured."""
    failed = [k for k, v in checks.items() if not v["pass"]]
    text = (f"Met: {len(checks) - len(failed)} of {len(checks)} checks." if checks
            else "No target could be checked.")
    if failed:
        text += " Not met: " + "; ".join(
            f"{k.split(' <=')[0]} = {checks[k]['value']:.1f}" for k in failed) + "."
    unmeasured = [c for c in TARGETS["rtpghi0_real_sc_db"]
                  if not any(k.startswith(f"rtpghi0 real SC {c} ") for k in checks)]
    if unmeasured:
        text += f" Not measured: RTPGHI(0) real SC at {', '.join(unmeasured)}."
    return text


def update_readme(readme: Path, table: str) -> str:
    """Replace the text between the phase-table markers; return what was done."""
    block = f"{MARK_BEGIN}\n{table}\n{MARK_END}"
    if not readme.exists():
        readme.write_text(f"## Benchmarks\n\n### Phase reconstruction\n\n{block}\n")
        return f"created {readme} with the phase table"
    text = readme.read_text()
    pattern = re.compile(rf"^{re.escape(MARK_BEGIN)}[ \t]*\n.*?^{re.escape(MARK_END)}[ \t]*$",
                         re.S | re.M)
    if pattern.search(text):
        readme.write_text(pattern.sub(lambda _m: block, text, count=1))
        return f"updated the phase table in {readme}"
    sep = "" if text.endswith("\n") else "\n"
    readme.write_text(f"{text}{sep}\n## Benchmarks\n\n### Phase reconstruction\n\n{block}\n")
    return f"appended a Benchmarks section with the phase table to {readme}"


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 2 short synthetic signals, one config, no README update")
    p.add_argument("--configs", type=parse_configs, default=None,
                   help=f"comma-separated N_FFT/HOP list (default {DEFAULT_CONFIGS}; "
                        "--quick: 4096/1024)")
    p.add_argument("--methods", type=parse_methods, default=list(METHODS),
                   help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                   help="output folder for the JSON and PNG")
    p.add_argument("--tol", type=float, default=None,
                   help="RTPGHI tolerance (default: the class default)")
    p.add_argument("--no-readme", action="store_true", help="do not touch README.md")
    p.add_argument("--from-json", type=Path, default=None, metavar="JSON",
                   help="measure nothing: redraw the PNG and README table from a results JSON")
    args = p.parse_args(argv)
    if args.configs is None:
        args.configs = parse_configs("4096/1024" if args.quick else DEFAULT_CONFIGS)
    return args


def measure(args: argparse.Namespace, command: str) -> dict:
    """Run the benchmark described by ``args``; return the results dictionary."""
    results = {"command": command, "machine": machine_info(),
               "methods": {m: LABELS[m] for m in args.methods},
               "targets": TARGETS, "reference_phaseret": REFERENCE,
               "griffinlim": {"n_iter": GL_ITERATIONS, "momentum": 0.99, "init": "random",
                              "random_state": 0, "stft": "librosa center=True pad_mode=constant"},
               "quick": args.quick}
    results.update(benchmark(args.configs, args.methods, args.quick, args.tol))
    results["target_checks"] = target_checks(results["configs"])
    results["machine"]["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    if args.from_json is not None:
        results = json.loads(args.from_json.read_text())
        stem = args.from_json.stem
    else:
        command = shlex.join(["python", "benchmarks/phase_reconstruction.py", *argv])
        results = measure(args, command)
        stem = "phase_reconstruction_quick" if args.quick else "phase_reconstruction"
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    plot_results(results, args.out / f"{stem}.png")
    summarise(results)
    written = [args.out / f"{stem}.png"] + ([] if args.from_json else [args.out / f"{stem}.json"])
    print("\nwrote " + " and ".join(map(str, written)))
    if not (results.get("quick") or args.no_readme):
        print(update_readme(ROOT / "README.md", markdown_table(results, results["command"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
