"""Soak: `rtsynth play canne` and `rtsynth play anne` for N minutes each under a MIDI storm.

A private JACK dummy server at 48 kHz / 256; rtsynth runs as a subprocess, as
a performer runs it, with the shipped models. A test client sends a storm of
about 800 MIDI events a second (random notes on all 16 channels, CCs, pitch
bend, aftertouch, program changes, sysex, running status; see
``tests/soakutil.py``) and, for ANNe, a tone plus noise into ``in_1``;
another records ``out_1``. Measured per instrument: xruns (rtsynth's count,
against an idle client on the same server for the same time), the output's
peak and non-finite samples, stderr (must stay empty), resident memory every
second (growth after warm-up; goal < 5 MB) and the DSP load rtsynth prints at
exit (median, p99, max).

Writes ``benchmarks/results/soak.json`` / ``.png`` (``soak_rt.*`` with ``--realtime``:
jackd -R, SCHED_FIFO for the server and the clients' process threads, as JACK runs on
stage).
Usage: ``python benchmarks/soak.py [--minutes 10] [--instruments canne anne] [--warmup 60]
[--realtime]``
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the private-JACK-server and soak helpers the tests use

import jackutil  # noqa: E402
import soakutil  # noqa: E402

RSS_GOAL_KB = 5 * 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="per instrument")
    ap.add_argument("--instruments", nargs="+", default=["canne", "anne"],
                    choices=["canne", "anne"])
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before RSS growth is counted (default: 10 %% of the run, "
                         "at most 60)")
    jackutil.add_realtime_option(ap)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    seconds = 60.0 * args.minutes
    warmup = args.warmup if args.warmup is not None else min(60.0, 0.1 * seconds)
    models = {i: ROOT / "models" / i for i in args.instruments}
    for i, m in models.items():
        if not (m / "manifest.json").is_file():
            print(f"soak: expected the shipped bundle at {m}, found none", file=sys.stderr)
            return 1
    server = jackutil.start_server(rate=48000, blocksize=256, realtime=args.realtime)
    res = {"benchmark": "soak", "date": time.strftime("%Y-%m-%d"), "rate": 48000, "block": 256,
           "jackd": " ".join(jackutil.scheduling_flags(args.realtime)),
           "minutes": args.minutes, "warmup_s": warmup, "runs": []}
    try:
        idle = soakutil.with_attribution(server, lambda: soakutil.idle_run(server, seconds))
        res.update(idle_xruns=idle["xruns"], idle_xruns_during_steal=idle["during_steal"],
                   idle_jackd_not_finished=idle["jackd_not_finished"],
                   idle_steal_ms=_steal_ms(idle["steal"]))
        print(f"idle client: {res['idle_xruns']} xruns in {seconds:.0f} s, "
              f"{res['idle_xruns_during_steal']} of them while the hypervisor stalled this machine "
              f"({res['idle_steal_ms']} ms stolen in all)", flush=True)
        for instrument in args.instruments:
            r = soakutil.with_attribution(server, lambda: soakutil.run_soak(
                server, instrument, models[instrument], seconds, cwd=ROOT))
            r["steal_ms"] = _steal_ms(r.pop("steal"))
            base, growth, worst = soakutil.rss_growth(r["rss"], warmup)
            r.update(rss_warm_kb=base, rss_growth_kb=growth, rss_growth_max_kb=worst,
                     finite_in_range=r["nonfinite"] == 0 and r["peak"] <= 1.0,
                     stderr_clean=r["stderr"].strip() == "" and r["returncode"] == 0)
            r["rss_goal_met"] = growth is not None and growth < RSS_GOAL_KB
            res["runs"].append(r)
            print(_line(r, res["idle_xruns"]), flush=True)
    finally:
        jackutil.stop_server(server)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "soak_rt" if args.realtime else "soak"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1))
    _plot(res, out / f"{stem}.png")
    print(f"wrote {out / (stem + '.json')} and {out / (stem + '.png')}")
    return 0


def _steal_ms(steal):
    """Milliseconds the hypervisor stole over a run's samples (None where unknown)."""
    ticks = [t for _, t in steal if t is not None]
    return 10 * (ticks[-1] - ticks[0]) if len(ticks) > 1 else None


def _line(r, idle):
    if "load_median" not in r:
        return f"{r['instrument']}: no DSP load line (rc {r['returncode']}): {r['stderr'][-500:]}"
    growth = "n/a" if r["rss_growth_kb"] is None else f"{r['rss_growth_kb'] / 1024:+.2f} MB"
    return (f"{r['instrument']}: {r['seconds']:.0f} s, {r['events_per_s']:.0f} MIDI events/s; "
            f"xruns {r['xruns']} (idle client {idle}); output peak {r['peak']:.3f}, "
            f"{r['nonfinite']} non-finite; stderr {'clean' if r['stderr_clean'] else 'NOT clean'}; "
            f"RSS {r['rss_warm_kb'] / 1024:.1f} MB after warm-up, growth {growth}; DSP load "
            f"median {r['load_median']:.1f} %, p99 {r['load_p99']:.1f} %, max {r['load_max']:.1f} %; "
            f"callback start p99 {r.get('start_p99_ms', float('nan')):.2f} ms, max "
            f"{r.get('start_max_ms', float('nan')):.2f} ms after the cycle's; the storm (upstream) "
            f"done by {r['storm_late_max_ms']:.2f} ms at worst; xruns by rtsynth's callback: "
            f"{_attribution(r)}; jackd named late: {r.get('jackd_not_finished')}")


def _attribution(r):
    a = r.get("xrun_attribution")
    if a is None:
        return "n/a (no trace)"
    return (f"{a['overran']} overran its period ({a['overran_steal']} during steal), "
            f"{a['started_late']} started late ({a['started_late_steal']}), {a['elsewhere']} on "
            f"time ({a['elsewhere_steal']}), {a['untraced']} before the trace; "
            f"{r['steal_ms']} ms stolen in all")


def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in res["runs"] if "load_median" in r]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(13, 3.8),
                                     gridspec_kw={"width_ratios": [2.2, 1, 1]})
    for r in res["runs"]:
        t = [s for s, _ in r["rss"]]
        a1.plot(t, [kb / 1024 for _, kb in r["rss"]], label=r["instrument"])
    a1.axvline(res["warmup_s"], color="k", ls=":", lw=1, label="end of warm-up")
    a1.set_xlabel("time under the storm (s)")
    a1.set_ylabel("rtsynth RSS (MB)")
    a1.set_title("resident memory")
    a1.legend(fontsize=8)
    x = range(len(runs))
    a2.bar(x, [r["load_median"] for r in runs], label="median")
    a2.scatter(x, [r["load_p99"] for r in runs], color="k", marker="_", s=300, label="p99")
    a2.scatter(x, [r["load_max"] for r in runs], color="r", marker="_", s=300, label="max")
    a2.set_xticks(list(x), [r["instrument"] for r in runs])
    a2.set_ylabel("% of a 256-sample period")
    a2.set_title("DSP load")
    a2.legend(fontsize=8)
    a3.bar(list(x), [r["xruns"] for r in runs], label="rtsynth")
    a3.axhline(res["idle_xruns"], color="r", ls=":", label="idle client")
    a3.set_xticks(list(x), [r["instrument"] for r in runs])
    a3.set_title("xruns")
    a3.legend(fontsize=8)
    fig.suptitle(f"soak: {res['minutes']:g} min per instrument under a MIDI storm, "
                 f"JACK dummy 48 kHz / 256, jackd {res['jackd']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
