"""What the performer view (``rtsynth play --ui``) costs the audio thread.

Starts a private JACK dummy server (48 kHz / 256) and runs ``rtsynth play
canne --backend jack`` as a subprocess twice per repeat, with and without
``--ui``, under the same load: N held notes while two knobs move every 8
periods (so the decoder runs, and the view redraws its bars, meters and MIDI
log every frame). Both runs get a pseudo-terminal (``script``) of 120 x 36
cells, as a performer's terminal would be (since stop 19; before, only the
``--ui`` run had one). Each run stops itself
with ``--duration`` and prints its exit line (DSP load median / p99 / max as
% of the period, and the xrun count), which is parsed here. Runs alternate
(without, with, with, without, ...) so drift on a shared machine hits both
alike. Each run gets a fresh server, first probed by an idle JACK client
(``--idle-seconds``, 20 by default): the xruns the machine makes by itself
just then. Pairs whose two probes both saw none are reported apart.

Target (issue 6): with ``--ui``, DSP load change <= 10 % and no extra xruns
over 60 s at 48 kHz / 256. The xruns are judged on the quiet pairs only, by
their total: the runs with the view must have no more xruns than the runs
without (each pair's difference is listed too).

Writes ``benchmarks/results/ui_cost.json`` / ``.png`` (``ui_cost_rt.*`` with
``--realtime``: jackd -R, SCHED_FIFO for the server and the clients' process
threads, as JACK runs on stage).
Usage: ``python benchmarks/ui_cost.py [--seconds 60] [--voices 8] [--repeats 1] [--realtime]``
"""

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the private-JACK-server helper the tests use

import jack  # noqa: E402
import jackutil  # noqa: E402

from canne_live import write_load  # noqa: E402
from soakutil import idle_run, with_attribution  # noqa: E402

NAME = "rtbenchui"
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")
#: warm-up before the measured time: model load, JACK activation, textual start
STARTUP = 3.0


def run_once(server, model, voices, seconds, ui):
    """One ``rtsynth play canne`` run under load; its exit-line figures and CPU time."""
    cmd, env = play_command(server, model, voices, seconds + STARTUP, ui)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the output goes to a file, not a pipe read by a thread here: such a thread would
    # wake with every frame the view draws and take this process's GIL from the
    # feeder's JACK callback, counting the harness's own lateness as the view's
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
        try:
            play_load(server, proc, voices)
            proc.wait(timeout=seconds + STARTUP + 120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0), err.seek(0)
        raw, stderr = out.read(), err.read().decode(errors="replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = ANSI.sub("", raw.decode(errors="replace"))
    load = jackutil.parse_load(text)
    if load is None:
        raise RuntimeError(f"no DSP load line (ui={ui}):\n{text[-3000:]}\n{stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"ui": ui, "seconds": seconds, **load, "cpu_seconds": round(cpu, 2)}


def play_command(server, model, voices, duration, ui):
    """The command line and environment of an ``rtsynth play canne`` run of ``duration``
    s on ``server``, in a pseudo-terminal of 120 x 36 cells (``script``)."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, PYTHONUNBUFFERED="1",
               TERM="xterm-256color")
    cmd = [sys.executable, "-m", "rtsynth", "play", "canne", "--backend", "jack", "--model",
           str(model), "--jack-name", NAME, "--voices", str(voices),
           "--duration", f"{duration:g}"]
    if ui:
        cmd.append("--ui")
    # both run in a pseudo-terminal, as a performer's session runs in a terminal either
    # way: the view draws in it; without the view only the start and exit lines go there
    shell = "stty cols 120 rows 36; exec " + shlex.join(cmd)
    return ["script", "-qec", shell, "/dev/null"], env


def play_load(server, proc, voices, xrun_ns=None):
    """Hold ``voices`` notes and move CC 21/22 every 8 periods until the process ends;
    the server's xruns meanwhile are appended to ``xrun_ns`` (``time.monotonic_ns``)."""
    notes = [36 + (i * 5) % 60 for i in range(voices)]
    state = {"t": 0, "armed": False, "sent": False}
    with jackutil.client("rtbenchui-midi", server) as c:
        out = c.midi_outports.register("out")
        if xrun_ns is not None:
            c.set_xrun_callback(lambda usecs: xrun_ns.append(time.monotonic_ns()))

        c.set_process_callback(lambda frames: write_load(out, frames, state, notes))
        c.activate()
        deadline = time.monotonic() + 60
        while True:  # the port exists before the client is active: retry until it connects
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rtsynth play did not start (midi_in never connected)")
            try:
                if c.get_ports(f"{NAME}:midi_in"):
                    c.connect(out, f"{NAME}:midi_in")
                    break
            except jack.JackError:
                pass
            time.sleep(0.1)
        state["armed"] = True
        with jackutil.harness_rules():
            while proc.poll() is None:
                time.sleep(0.1)
        c.deactivate()


def summarise(runs, idle_xruns):
    """Mean figures per configuration and the change the view makes."""
    def mean(ui, key):
        vals = [r[key] for r in runs if r["ui"] == ui]
        return sum(vals) / len(vals)

    base = {k: mean(False, k) for k in ("load_median", "load_p99", "load_max", "xruns",
                                        "xruns_rtsynth", "cpu_seconds")}
    view = {k: mean(True, k) for k in base}
    change = {
        "median_rel_pct": 100.0 * (view["load_median"] - base["load_median"]) / base["load_median"],
        "p99_rel_pct": 100.0 * (view["load_p99"] - base["load_p99"]) / base["load_p99"],
        "median_pp": view["load_median"] - base["load_median"],
        "extra_xruns": view["xruns"] - base["xruns"],
        "extra_xruns_rtsynth": view["xruns_rtsynth"] - base["xruns_rtsynth"],
        "view_cpu_seconds": view["cpu_seconds"] - base["cpu_seconds"],
    }
    # pairs whose two idle probes both saw no xrun: the machine was quiet around them.
    # The xrun verdict is theirs; with none it is undecided (None): a noisy pair's
    # hundreds of the machine's own xruns would otherwise decide the mean either way.
    # It is their total (the view's runs against the others), not every pair: two quiet
    # runs of one configuration differ by tens of xruns (stop 20: 12 and 89 without the
    # view), so asking each pair for <= 0 failed a view with no effect at all in most
    # runs (stops 18-19 judged that way)
    quiet = quiet_pairs(runs)
    quiet_extra = pair_extras(quiet, "ui")
    extra_ok = sum(quiet_extra) <= 0 if quiet else None
    alone = [r["xruns"] for p in quiet for r in p if not r["ui"]]
    load_ok = change["median_rel_pct"] <= 10.0
    met = False if not load_ok or extra_ok is False else extra_ok
    return {"without_ui": base, "with_ui": view, "change": change, "idle_xruns": idle_xruns,
            "quiet_pairs": len(quiet), "quiet_pairs_extra_xruns": quiet_extra,
            "quiet_pairs_total_extra_xruns": sum(quiet_extra),
            "quiet_without_ui_xruns_range": [min(alone), max(alone)] if alone else None,
            "target": "median DSP load change <= 10 % and no extra xruns (in total over "
                      "the quiet pairs)", "met": met}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "canne"))
    ap.add_argument("--voices", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=1,
                    help="pairs of runs (alternating order); default 1")
    ap.add_argument("--idle-seconds", type=float, default=20.0,
                    help="idle-client probe of each run's fresh server before it; default 20")
    jackutil.add_realtime_option(ap)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--summarise", metavar="JSON",
                    help="recompute the summary and chart of an earlier result file from its "
                         "runs (rewrites it and its PNG), without running anything")
    args = ap.parse_args(argv)
    if args.summarise:
        return _resummarise(Path(args.summarise))
    problem = prerequisite_problem("ui_cost", args.model)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    runs = []
    idle = 0
    for i in range(args.repeats):
        for ui in ((False, True) if i % 2 == 0 else (True, False)):
            # a fresh server per run, probed by an idle client just before: on the shared
            # machine the xruns of both configurations grew run after run on one server
            # (stop 18: 15, 11, 101, 206, 410, 1157), so a single probe at the start
            # said nothing of the later runs
            server = jackutil.start_server(rate=48000, blocksize=256, realtime=args.realtime)
            try:
                probe = idle_run(server, args.idle_seconds)
                r = with_attribution(server, lambda: run_once(server, args.model, args.voices,
                                                              args.seconds, ui))
            finally:
                jackutil.stop_server(server)
            a = r.get("xrun_attribution", {})
            # xruns after an rtsynth block over its period or started too late to end in it
            r["xruns_rtsynth"] = a.get("overran", 0) + a.get("started_late", 0)
            r["idle_xruns"] = probe["xruns"]
            r["idle_steal_pct"] = _steal_pct(probe["steal"])
            idle += probe["xruns"]
            runs.append(r)
            print(f"{'with' if ui else 'without':>7} --ui: DSP load median "
                  f"{r['load_median']:.1f} %, p99 {r['load_p99']:.1f} %, max "
                  f"{r['load_max']:.1f} %; xruns {r['xruns']} ({r['xruns_rtsynth']} after "
                  f"an rtsynth block over or late); CPU {r['cpu_seconds']:.1f} s; idle "
                  f"client before: {probe['xruns']} xruns in {args.idle_seconds:g} s, steal "
                  f"{r['idle_steal_pct']:.1f} %")
    res = {"benchmark": "ui_cost", "date": time.strftime("%Y-%m-%d"), "rate": 48000,
           "block": 256, "voices": args.voices, "seconds": args.seconds,
           "repeats": args.repeats, "model": str(args.model),
           "jackd": " ".join(jackutil.scheduling_flags(args.realtime)),
           "command": "python benchmarks/ui_cost.py " + " ".join(argv or sys.argv[1:]),
           "runs": runs, **summarise(runs, idle)}
    c = res["change"]
    print(f"change with --ui: median {c['median_rel_pct']:+.1f} % ({c['median_pp']:+.2f} points), "
          f"p99 {c['p99_rel_pct']:+.1f} %, extra xruns {c['extra_xruns']:+g} "
          f"({c['extra_xruns_rtsynth']:+g} after an rtsynth block over or late), view CPU "
          f"{c['view_cpu_seconds']:.1f} s; target {_verdict(res['met'])}")
    print(f"pairs with a quiet idle probe before both runs: {res['quiet_pairs']} of "
          f"{args.repeats}, extra xruns with --ui in each: {res['quiet_pairs_extra_xruns']}, "
          f"in total {res['quiet_pairs_total_extra_xruns']:+d}; the runs without --ui in "
          f"them: {res['quiet_without_ui_xruns_range']} xruns (min, max)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "ui_cost_rt" if args.realtime else "ui_cost"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1))
    _plot(res, out / f"{stem}.png")
    print(f"wrote {out / (stem + '.json')}")
    return 0


def prerequisite_problem(name, model):
    """One sentence on what a run of benchmark ``name`` lacks (the model bundle, or
    ``script`` for the pseudo-terminal), or None."""
    if not (Path(model) / "manifest.json").is_file():
        return f"{name}: expected a model bundle at {model}, found none (pass --model)"
    if shutil.which("script") is None:
        return (f"{name}: expected `script` (util-linux) for the view's pseudo-terminal, "
                f"found none")
    return None


def quiet_pairs(runs):
    """The pairs of consecutive runs (1-2, 3-4, ...) whose two idle probes saw no xrun."""
    pairs = [runs[k:k + 2] for k in range(0, len(runs) - 1, 2)]
    return [p for p in pairs if all(r.get("idle_xruns", 0) == 0 for r in p)]


def pair_extras(pairs, flag):
    """Per pair: the xruns of its run with ``flag`` set minus those of the other."""
    return [sum(r["xruns"] if r[flag] else -r["xruns"] for r in p) for p in pairs]


def plot_runs(ax, runs, flag, names):
    """Every run's xruns in run order (colour and tick ``names[run[flag]]``) on a symlog
    scale, with the idle probe's xruns before each: the machine's noise beside the effect."""
    xs = range(len(runs))
    ax.bar(xs, [r["xruns"] for r in runs], color=[f"C{int(r[flag])}" for r in runs])
    ax.plot(xs, [r.get("idle_xruns", 0) for r in runs], "k_", markersize=14,
            label="idle client's xruns in the probe before")
    for x, r in zip(xs, runs):
        ax.text(x, r["xruns"], str(r["xruns"]), ha="center", va="bottom", fontsize=7)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_xticks(list(xs), [names[int(r[flag])] for r in runs], fontsize=7)
    ax.legend(fontsize=7)


def _resummarise(path):
    res = json.loads(path.read_text())
    res.update(summarise(res["runs"], res["idle_xruns"]))
    res["summarised_by"] = "python benchmarks/ui_cost.py --summarise " + str(path.name)
    path.write_text(json.dumps(res, indent=1))
    _plot(res, path.with_suffix(".png"))
    print(f"{path}: quiet pairs' extra xruns {res['quiet_pairs_extra_xruns']}, total "
          f"{res['quiet_pairs_total_extra_xruns']:+d}; target {_verdict(res['met'])}")
    return 0


def _steal_pct(steal):
    """The hypervisor's steal over a probe, in % of one CPU (``watch_steal`` samples:
    (monotonic ns, steal ticks))."""
    if len(steal) < 2:
        return 0.0
    (t0, s0), (t1, s1) = steal[0], steal[-1]
    return 100.0 * (s1 - s0) / os.sysconf("SC_CLK_TCK") / max((t1 - t0) / 1e9, 1e-9)


def _verdict(met):
    if met is None:
        return "undecided (no quiet pair: the machine's own xruns would decide)"
    return "met" if met else "NOT met"


def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 1.3]})
    labels = ("median", "p99", "max")
    for k, (key, name) in enumerate((("without_ui", "without --ui"), ("with_ui", "with --ui"))):
        vals = [res[key][f"load_{m}"] for m in labels]
        ax.bar([x + 0.38 * k for x in range(3)], vals, width=0.38, color=f"C{k}",
               label=f"{name} ({res[key]['xruns']:.1f} xruns, mean)")
    ax.set_xticks([x + 0.19 for x in range(3)], labels)
    ax.set_ylabel("DSP load, % of a 256-sample period")
    c = res["change"]
    ax.set_title(f"play canne, {res['voices']} voices, JACK dummy 48 kHz/256, "
                 f"{res['seconds']:.0f} s\nmedian change {c['median_rel_pct']:+.1f} %, "
                 f"extra xruns {c['extra_xruns']:+.1f} (mean of all pairs)\nin the pairs "
                 f"with quiet idle probes: {res.get('quiet_pairs_extra_xruns', [])}, total "
                 f"{res.get('quiet_pairs_total_extra_xruns', 0):+d}",
                 fontsize=8)
    ax.legend(fontsize=8)
    # every run in the order it ran, with what the idle client saw just before it: the
    # machine's own noise, next to the view's
    plot_runs(bx, res.get("runs", []), "ui", ("without", "with"))
    bx.set_ylabel("xruns in the run")
    bx.set_title("each run, in order (pairs: 1-2, 3-4, ...)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
