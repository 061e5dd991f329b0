"""Does CPU used at SCHED_IDLE, as the ``--ui`` view's process runs, cost the audio thread?

The performer view runs in its own process scheduled ``SCHED_IDLE``
(``rtsynth.host.ui_process``): it should draw only from time no other thread
wants. This checks that premise on the machine at hand, without the view's
own code in the way: ``rtsynth play canne --backend jack`` (no view) runs
under the same load as in ``ui_cost.py`` (8 held voices, CC 21/22 moving
every 8 periods, a pseudo-terminal), alternately alone and beside a busy loop
that takes a whole core at ``SCHED_IDLE`` (far more than the view's 4 %). Each
run gets a fresh JACK dummy server (48 kHz / 256, ``-R`` with ``--realtime``)
probed first by an idle client, as in ``ui_cost.py``.

``--hog memory`` makes the busy core stream through 64 MB instead of
spinning, so that it also evicts the audio thread's data from the caches.

Writes ``benchmarks/results/idle_cpu.json`` / ``.png`` (``idle_cpu_memory.*``
with ``--hog memory``).
Usage: ``python benchmarks/idle_cpu.py [--seconds 30] [--repeats 3] [--realtime]
[--hog cpu|memory]``
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import jackutil  # noqa: E402
import ui_cost  # noqa: E402
from soakutil import idle_run  # noqa: E402

#: the busy loops, one core's worth at SCHED_IDLE: ``cpu`` spins in the interpreter (a
#: working set of a few kB); ``memory`` streams through 64 MB, far more than the caches,
#: so it also evicts the audio thread's data between blocks, as a view's redraws may
HOGS = {
    "cpu": ("import os\nos.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
            "while True:\n    pass\n"),
    "memory": ("import os\nimport numpy as np\n"
               "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
               "a = np.ones(8 << 20)\nb = np.empty_like(a)\n"
               "while True:\n    np.multiply(a, 1.0000001, out=b)\n    a, b = b, a\n"),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "canne"))
    ap.add_argument("--voices", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--hog", choices=sorted(HOGS), default="cpu",
                    help="what the busy core does: spin (cpu, default) or stream through "
                         "64 MB (memory)")
    jackutil.add_realtime_option(ap)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    runs = []
    for i in range(args.repeats):
        for hog in ((False, True) if i % 2 == 0 else (True, False)):
            server = jackutil.start_server(rate=48000, blocksize=256, realtime=args.realtime)
            try:
                probe = idle_run(server, args.idle_seconds)
                busy = subprocess.Popen([sys.executable, "-c", HOGS[args.hog]]) if hog else None
                try:
                    r = ui_cost.run_once(server, Path(args.model), args.voices, args.seconds,
                                         False)
                finally:
                    if busy is not None:
                        busy.kill()
                        busy.wait()
            finally:
                jackutil.stop_server(server)
            r.update(idle_hog=hog, idle_xruns=probe["xruns"])
            runs.append(r)
            print(f"{'with' if hog else 'without':>7} a SCHED_IDLE busy core: DSP load median "
                  f"{r['load_median']:.1f} %, p99 {r['load_p99']:.1f} %; xruns {r['xruns']}; "
                  f"idle client before: {probe['xruns']} xruns", flush=True)
    res = {"benchmark": "idle_cpu", "date": time.strftime("%Y-%m-%d"), "rate": 48000,
           "block": 256, "voices": args.voices, "seconds": args.seconds, "hog": args.hog,
           "jackd": " ".join(jackutil.scheduling_flags(args.realtime)),
           "command": "python benchmarks/idle_cpu.py " + " ".join(argv or sys.argv[1:]),
           "runs": runs,
           "xruns_without": [r["xruns"] for r in runs if not r["idle_hog"]],
           "xruns_with": [r["xruns"] for r in runs if r["idle_hog"]],
           "quiet_pairs_extra_xruns": ui_cost.pair_extras(ui_cost.quiet_pairs(runs),
                                                          "idle_hog")}
    print(f"xruns without {res['xruns_without']}, with {res['xruns_with']}; quiet pairs' extra "
          f"with the busy core: {res['quiet_pairs_extra_xruns']}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "idle_cpu" if args.hog == "cpu" else f"idle_cpu_{args.hog}"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1))
    _plot(res, out / f"{stem}.png")
    print(f"wrote {out / (stem + '.json')}")
    return 0


def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = res["runs"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ui_cost.plot_runs(ax, runs, "idle_hog", ("alone", "busy"))
    ax.set_ylabel(f"xruns in {res['seconds']:g} s")
    ax.set_title(f"play canne, {res['voices']} voices, JACK dummy 48 kHz/256 ({res['jackd']}):\n"
                 f"alone (C0) and beside a core busy at SCHED_IDLE ({res.get('hog', 'cpu')}, "
                 "C1), in run order",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
