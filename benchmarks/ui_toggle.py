"""What the ``--ui`` view's process costs the audio thread, within one session.

``ui_cost.py`` compares separate runs with and without ``--ui``. On this shared
2-core machine the same load without the view gave 12 to 2402 xruns per 60 s
from one run to the next within an hour (stop 20), so a few minutes of such
pairs cannot tell a small effect from the machine's own swings. This benchmark
interleaves instead: one long ``rtsynth play canne --backend jack --ui``
session under ``ui_cost.py``'s load (8 held voices, CC 21/22 every 8 periods, a
120 x 36 pseudo-terminal), in which the view's process is stopped (SIGSTOP)
and let go on (SIGCONT) in turn every ``--segment`` s, in the order on, off,
off, on, on, off, ... (so a steady drift hits both alike). A stopped view
takes no CPU and touches no memory, and nothing else changes: the audio
process keeps posting to the shared link (4 us a block, ``view_cost.py``) and
polling the view's pipe either way. Each pair of neighbouring segments thus
compares the view drawing with the view absent, seconds apart, on the same
machine, server and process.

Counted per segment: the server's xruns (the harness's JACK client's xrun
notices) and, from rtsynth's per-block trace (``RTSYNTH_DSP_TRACE``), each
block's time as % of the period and how late in the cycle it started.

Target (issue 6): with ``--ui``, no extra xruns over 60 s and DSP load change
<= 10 %: the view's segments together have no more xruns than the others, and
their median block time is within 10 % of the others'. Reported besides: the
extra xruns per 60 s with a 95 % bootstrap interval over the pairs, a sign
test over the pairs, and the block-time tails (p99, p99.9, blocks over the
period) of both.

Writes ``benchmarks/results/ui_toggle.json`` / ``.png`` (``ui_toggle_rt.*`` with
``--realtime``).
Usage: ``python benchmarks/ui_toggle.py [--seconds 600] [--segment 10] [--realtime]``
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import jackutil  # noqa: E402
import ui_cost  # noqa: E402
from soakutil import idle_run  # noqa: E402

#: the view's module, as its process's command line names it
VIEW_MODULE = "rtsynth.host.ui_process"
#: after the view's process appears: textual's start and the first frames, not measured
SETTLE = 5.0
#: play's --duration beyond the schedule: its start and the view's, before the schedule
SLACK = 20.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "canne"))
    ap.add_argument("--voices", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=600.0,
                    help="measured time, both conditions together; default 600")
    ap.add_argument("--segment", type=float, default=10.0,
                    help="seconds the view stays running or stopped; default 10")
    ap.add_argument("--idle-seconds", type=float, default=20.0,
                    help="idle-client probe of the server before the session; default 20")
    ap.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    jackutil.add_realtime_option(ap)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    problem = ui_cost.prerequisite_problem("ui_toggle", args.model)
    if args.segment <= 0 or args.seconds < 2 * args.segment:
        problem = (f"ui_toggle: expected --seconds >= 2 x --segment > 0, found --seconds "
                   f"{args.seconds:g}, --segment {args.segment:g}")
    if problem:
        print(problem, file=sys.stderr)
        return 1
    pairs = int(args.seconds // (2 * args.segment))
    schedule = [on for k in range(pairs) for on in ((True, False) if k % 2 == 0 else (False, True))]
    server = jackutil.start_server(rate=48000, blocksize=256, realtime=args.realtime)
    try:
        probe = idle_run(server, args.idle_seconds)
        session = run_session(server, args.model, args.voices, schedule, args.segment)
    finally:
        jackutil.stop_server(server)
    res = {"benchmark": "ui_toggle", "date": time.strftime("%Y-%m-%d"), "rate": server.rate,
           "block": server.blocksize, "voices": args.voices, "segment_seconds": args.segment,
           "pairs": pairs, "model": str(args.model),
           "jackd": " ".join(jackutil.scheduling_flags(args.realtime)),
           "command": "python benchmarks/ui_toggle.py " + " ".join(argv or sys.argv[1:]),
           "idle_probe": {"seconds": args.idle_seconds, "xruns": probe["xruns"]},
           "exit_line": session["exit_line"], "segments": session["segments"],
           **summarise(session["segments"], args.segment, args.seed)}
    _report(res)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "ui_toggle_rt" if args.realtime else "ui_toggle"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1))
    _plot(res, session["loads"], out / f"{stem}.png")
    print(f"wrote {out / (stem + '.json')}")
    return 0


def run_session(server, model, voices, schedule, segment):
    """One ``play canne --ui`` session under load, the view stopped where ``schedule``
    says False; per segment its xruns and block-time figures, each condition's block
    loads (% of the period) and the exit line's figures."""
    duration = SLACK + len(schedule) * segment
    cmd, env = ui_cost.play_command(server, model, voices, duration, ui=True)
    folder = Path(tempfile.mkdtemp(prefix="rtsynth-toggle-"))
    env["RTSYNTH_DSP_TRACE"] = str(folder / "trace.npz")
    xrun_ns, marks, problems = [], [], []
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env, cwd=ROOT)
        toggler = threading.Thread(target=_toggle, args=(proc, schedule, segment, marks,
                                                         problems), daemon=True)
        toggler.start()
        try:
            ui_cost.play_load(server, proc, voices, xrun_ns)
            proc.wait(timeout=duration + 120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            toggler.join(timeout=30)
        out.seek(0), err.seek(0)
        text = ui_cost.ANSI.sub("", out.read().decode(errors="replace"))
        stderr = err.read().decode(errors="replace")
    if problems:
        raise RuntimeError(f"the view could not be paused: {problems[0]}\n{stderr[-3000:]}")
    load = jackutil.parse_load(text)
    trace_path = folder / "trace.npz"
    if load is None or not trace_path.is_file():
        raise RuntimeError(f"no exit line or no trace:\n{text[-3000:]}\n{stderr[-3000:]}")
    with np.load(trace_path) as t:
        trace = {k: t[k] for k in t.files}
    trace_path.unlink()
    folder.rmdir()
    segments, loads = _segment_figures(marks, np.asarray(xrun_ns, dtype=np.int64), trace,
                                       server.rate)
    return {"segments": segments, "loads": loads, "exit_line": load}


def summarise(segments, segment, seed=0):
    """Both conditions' figures, the pairs' extra xruns and the verdict."""
    on = [s for s in segments if s["view"]]
    off = [s for s in segments if not s["view"]]
    pairs = [segments[k:k + 2] for k in range(0, len(segments) - 1, 2)]
    extra = [sum(s["xruns"] if s["view"] else -s["xruns"] for s in p) for p in pairs]
    total = sum(extra)
    per_min = 60.0 * np.asarray(extra, dtype=np.float64) / segment
    rng = np.random.default_rng(seed)
    boot = per_min[rng.integers(0, len(extra), (10000, len(extra)))].mean(axis=1)
    more, fewer = sum(e > 0 for e in extra), sum(e < 0 for e in extra)
    sign_p = binomtest(more, more + fewer).pvalue if more + fewer else 1.0

    def pooled(segs):
        keys = ("blocks", "xruns", "over_50", "over_100")
        # the view's CPU, % of a core, over the condition's segments
        cpu = float(np.mean([s["view_cpu_pct"] for s in segs]))
        agg = {k: int(sum(s[k] for s in segs)) for k in keys}
        agg["seconds"] = segment * len(segs)
        agg["xruns_per_60s"] = 60.0 * agg["xruns"] / agg["seconds"]
        for k in ("load_median", "load_p99", "load_p999", "late_p99_ms"):
            agg[k] = float(np.median([s[k] for s in segs]))  # median over the segments
        agg["load_max"] = max(s["load_max"] for s in segs)
        agg["view_cpu_pct"] = cpu
        return agg

    view, base = pooled(on), pooled(off)
    rel = 100.0 * (view["load_median"] - base["load_median"]) / base["load_median"]
    met = bool(total <= 0 and rel <= 10.0)
    return {"with_view": view, "view_stopped": base, "pairs_extra_xruns": extra,
            "total_extra_xruns": total,
            "extra_xruns_per_60s": float(per_min.mean()),
            "extra_xruns_per_60s_ci95": [float(np.percentile(boot, 2.5)),
                                         float(np.percentile(boot, 97.5))],
            "pairs_more_with_view": more, "pairs_fewer_with_view": fewer,
            "sign_test_p": float(sign_p), "median_rel_pct": rel,
            "target": "the view's segments have no more xruns in total than the others, "
                      "and a median block time within 10 % of theirs", "met": met}


def _toggle(proc, schedule, segment, marks, problems):
    """Stop and resume the view's process along ``schedule``; ``marks`` gets each
    segment's (start ns, view running, the view's CPU seconds so far) and a final
    (end ns, None, CPU seconds)."""
    view = None
    try:
        view = _wait_for_view(proc, timeout=60.0)
        t0 = time.monotonic() + SETTLE
        for k, on in enumerate(schedule):
            _sleep_until(t0 + k * segment)
            if proc.poll() is not None:
                problems.append("rtsynth play ended before the schedule did")
                return
            os.kill(view, signal.SIGCONT if on else signal.SIGSTOP)
            marks.append((time.monotonic_ns(), on, _cpu_seconds(view)))
        _sleep_until(t0 + len(schedule) * segment)
        marks.append((time.monotonic_ns(), None, _cpu_seconds(view)))
    except Exception as e:  # reported by run_session, with rtsynth's stderr
        problems.append(f"{type(e).__name__}: {e}")
    finally:
        if view is not None:
            try:
                os.kill(view, signal.SIGCONT)  # never leave it stopped: play waits for it
            except ProcessLookupError:
                pass


def _wait_for_view(proc, timeout):
    """The pid of the view's process under ``proc`` (through ``script`` and play)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("rtsynth play ended before its view started")
        for pid in _descendants(proc.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if VIEW_MODULE.encode() in f.read():
                        return pid
            except OSError:
                continue
        time.sleep(0.1)
    raise RuntimeError(f"no {VIEW_MODULE} process under rtsynth play in {timeout:g} s")


def _descendants(root):
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, todo = [], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        todo += kids
    return found


def _cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` so far (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sleep_until(t):
    while (left := t - time.monotonic()) > 0:
        time.sleep(min(left, 0.5))


def _segment_figures(marks, xrun_ns, trace, rate):
    """Per segment between ``marks``: xruns and block-time figures; each condition's
    block loads (% of the period), for the chart."""
    start = trace["start_ns"]
    load = 100.0 * trace["ns"] / (trace["frames"].astype(np.float64) * 1e9 / rate)
    late_ms = np.where(trace["late"] >= 0, trace["late"] * 1e3 / rate, np.nan)
    segments, loads = [], {True: [], False: []}
    for (a, on, cpu_a), (b, _, cpu_b) in zip(marks, marks[1:]):
        inside = (start >= a) & (start < b)
        x = load[inside]
        if x.size == 0:
            raise RuntimeError(f"no block traced in a segment ({(b - a) / 1e9:.1f} s)")
        loads[on].append(x)
        late = late_ms[inside]
        late = late[np.isfinite(late)]
        segments.append({
            "view": on, "start_s": (a - marks[0][0]) / 1e9,
            # the view's CPU in the segment: proof that SIGSTOP held it (0 when stopped)
            "view_cpu_pct": 100.0 * (cpu_b - cpu_a) / ((b - a) / 1e9),
            "xruns": int(np.count_nonzero((xrun_ns >= a) & (xrun_ns < b))),
            "blocks": int(x.size), "load_median": float(np.median(x)),
            "load_p99": float(np.percentile(x, 99)), "load_p999": float(np.percentile(x, 99.9)),
            "load_max": float(x.max()), "over_50": int(np.count_nonzero(x > 50.0)),
            "over_100": int(np.count_nonzero(x > 100.0)),
            "late_p99_ms": float(np.percentile(late, 99)) if late.size else float("nan")})
    return segments, {k: np.concatenate(v) if v else np.zeros(0) for k, v in loads.items()}


def _report(res):
    for name, key in (("view running", "with_view"), ("view stopped", "view_stopped")):
        c = res[key]
        print(f"{name}: {c['xruns']} xruns in {c['seconds']:g} s ({c['xruns_per_60s']:.1f} per "
              f"60 s); block time median {c['load_median']:.1f} %, p99 {c['load_p99']:.1f} %, "
              f"p99.9 {c['load_p999']:.1f} %, max {c['load_max']:.1f} %; blocks over the "
              f"period {c['over_100']} of {c['blocks']}; the view's CPU "
              f"{c['view_cpu_pct']:.1f} % of a core")
    lo, hi = res["extra_xruns_per_60s_ci95"]
    print(f"extra xruns with the view: {res['total_extra_xruns']:+d} in total over "
          f"{res['pairs']} pairs ({res['extra_xruns_per_60s']:+.1f} per 60 s, 95 % interval "
          f"{lo:+.1f} to {hi:+.1f}); pairs with more {res['pairs_more_with_view']}, fewer "
          f"{res['pairs_fewer_with_view']} (sign test p = {res['sign_test_p']:.2f}); median "
          f"block time {res['median_rel_pct']:+.1f} %; idle probe before: "
          f"{res['idle_probe']['xruns']} xruns; target {'met' if res['met'] else 'NOT met'}")


def _plot(res, loads, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    segs = res["segments"]
    xs = [s["start_s"] for s in segs]
    ax.bar(xs, [s["xruns"] for s in segs], width=res["segment_seconds"] * 0.9, align="edge",
           color=[f"C{int(s['view'])}" for s in segs])
    ax.bar([0], [0], color="C1", label="view running")
    ax.bar([0], [0], color="C0", label="view stopped (SIGSTOP)")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_xlabel("time in the session (s)")
    ax.set_ylabel(f"xruns in the {res['segment_seconds']:g} s segment")
    lo, hi = res["extra_xruns_per_60s_ci95"]
    ax.set_title(f"play canne --ui, {res['voices']} voices, JACK dummy 48 kHz/256 "
                 f"({res['jackd']})\nextra xruns with the view {res['total_extra_xruns']:+d} "
                 f"over {res['pairs']} pairs: {res['extra_xruns_per_60s']:+.1f} per 60 s "
                 f"(95 % {lo:+.1f} to {hi:+.1f}); sign test p {res['sign_test_p']:.2f}",
                 fontsize=8)
    ax.legend(fontsize=7)
    for on, name in ((True, "view running"), (False, "view stopped")):
        x = np.sort(loads[on])
        if x.size:
            bx.plot(x, 1.0 - np.arange(x.size) / x.size, color=f"C{int(on)}", label=name)
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.axvline(100.0, color="k", lw=0.8, ls=":")
    bx.set_xlabel("block time, % of the period")
    bx.set_ylabel("fraction of blocks at least that long")
    bx.set_title(f"block times (median change {res['median_rel_pct']:+.1f} %)", fontsize=8)
    bx.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
