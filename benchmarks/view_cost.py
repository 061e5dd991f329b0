"""What the performer view's own process costs: CPU and bytes sent to the terminal.

Runs the real view process (``python -m rtsynth.host.ui_process``, as ``rtsynth
play --ui`` starts it) under a pseudo-terminal of 120 x 36 cells, sharing with it
a link (``rtsynth.host.ui_link.UiLink``) written here as a live CANNe session's
callback would write it (models/canne), 10 times a second (the view's frame
rate, at which it reads the link): two latents gliding, the output and DSP
meters moving, two MIDI messages per frame. After a warm-up it reads the
process's CPU time from /proc and counts what the view writes to the terminal. No audio runs: ``ui_cost.py`` measures
the view's effect on the audio thread; this one measures the view alone, in
seconds instead of minutes, so that its cost can be tracked per change.

It also times what ``--ui`` adds to each audio block (the callback's side of
the link: meters, the post of the block's time, xruns and voices, and the
MIDI monitor at the load's two CCs every 8 blocks), on a CanneSynth of the
same model with 8 voices held, 20,000 blocks.

Writes ``benchmarks/results/view_cost.json`` / ``.png``.
Usage: ``python benchmarks/view_cost.py [--seconds 30] [--model models/canne]``
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the view-under-a-pty helper the tests use

from rtsynth.host.runtime import DspMeter  # noqa: E402
from rtsynth.host.ui import FPS  # noqa: E402
from rtsynth.host.ui_link import UiLink  # noqa: E402
from rtsynth.host.ui_params import view_specs  # noqa: E402
from rtsynth.engine import CanneSynth  # noqa: E402
from rtsynth.model import load_bundle  # noqa: E402
from viewpty import ViewProcess  # noqa: E402

#: warm-up before the measured time: imports, textual start, first full paint
WARMUP = 3.0
COLS, ROWS = 120, 36


def measure(model, seconds):
    specs = view_specs("canne", load_bundle(model).manifest)
    link = UiLink([s.name for s in specs])
    meter = DspMeter(1024)
    view = ViewProcess(cols=COLS, rows=ROWS, cwd=ROOT, link=link)
    pid = view.proc.pid
    init = {"title": "view_cost", "specs": [asdict(s) for s in specs], "learn": None,
            "rate": 48000, "period_ms": 1000 * 256 / 48000, "has_input": False,
            "link": {"fd": link.fd, "layout": link.layout()}}
    view.send({"init": init})
    t0 = time.monotonic()
    k, mark = 0, None
    while (now := time.monotonic()) - t0 < WARMUP + seconds:
        if mark is None and now - t0 >= WARMUP:
            mark = (now, _cpu(pid), view.written)
        k += 1
        for i, s in enumerate(specs[:2]):
            link.values[i] = s.lo + (s.hi - s.lo) * (0.5 + 0.5 * math.sin(k / (20 + i)))
        level = 0.3 + 0.1 * math.sin(k / 3)
        link.levels[:2] = level, level / 4
        for b in range(19):  # the blocks of one frame at 48 kHz / 256
            meter.record(int(5.33e6 * (0.15 + 0.08 * math.sin(k + b / 19))), 256)
            link.post(meter, None)
        link.monitor.push(0, 0xB0, 21, k % 128)
        link.monitor.push(0, 0xB0, 22, (3 * k) % 128)
        time.sleep(max(0.0, t0 + k / FPS - time.monotonic()))
    end = (time.monotonic(), _cpu(pid), view.written)
    view.send({"quit": True})
    rc = view.proc.wait(timeout=30)
    view.close()
    wall = end[0] - mark[0]
    return {"exit": rc, "seconds": round(wall, 2), "frames_per_s": FPS,
            "cpu_seconds": round(end[1] - mark[1], 3),
            "cpu_percent_of_a_core": round(100 * (end[1] - mark[1]) / wall, 1),
            "terminal_kB_per_s": round((end[2] - mark[2]) / wall / 1000, 1)}


def callback_cost(model, blocks=20000):
    """What the link adds to one audio block: (median us, p99 us)."""
    import numpy as np

    synth = CanneSynth(load_bundle(model), sample_rate=48000, polyphony=8)
    for k in range(8):
        synth.note_on(48 + 5 * k, 100)
    link = UiLink()
    link.configure(48000, 256)
    meter = DspMeter(1 << 15)
    out = (0.1 * np.sin(np.arange(256) / 7.0)).astype(np.float32)
    ns = np.zeros(blocks, np.int64)
    clock = time.perf_counter_ns
    for b in range(blocks):
        meter.record(1_300_000, 256)
        t0 = clock()
        if b % 8 == 0:
            link.monitor.push(0, 0xB0, 21, b % 128)
            link.monitor.push(0, 0xB0, 22, b % 128)
        link.measure(out)
        link.post(meter, synth)
        ns[b] = clock() - t0
        if b % 1024 == 0:
            link.monitor.clear()
    ns = ns[1000:]  # after the first calls' warm-up
    return float(np.median(ns)) / 1e3, float(np.percentile(ns, 99)) / 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--model", default=str(ROOT / "models" / "canne"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    r = measure(args.model, args.seconds)
    med, p99 = callback_cost(args.model)
    r.update(callback_link_us_median=round(med, 2), callback_link_us_p99=round(p99, 2),
             callback_link_pct_of_period=round(100 * med / (1e6 * 256 / 48000), 3))
    result = {"benchmark": "view_cost", "date": time.strftime("%Y-%m-%d"),
              "command": "python benchmarks/view_cost.py " + " ".join(sys.argv[1:]),
              "terminal": f"{COLS} x {ROWS}", "cpu": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "loadavg": os.getloadavg(), **r}
    (out / "view_cost.json").write_text(json.dumps(result, indent=1))
    print(f"view process: {r['cpu_percent_of_a_core']} % of a core, "
          f"{r['terminal_kB_per_s']} kB/s to the terminal over {r['seconds']} s "
          f"({FPS} frames/s)")
    print(f"the link's work in the audio callback: median {med:.2f} us, p99 {p99:.2f} us a "
          f"block ({r['callback_link_pct_of_period']} % of a 256-frame period at 48 kHz)")
    _plot(result, out / "view_cost.png")


def _plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 3))
    for ax, key, label in ((axes[0], "cpu_percent_of_a_core", "view process: CPU, % of a core"),
                           (axes[1], "terminal_kB_per_s", "to the terminal, kB/s"),
                           (axes[2], "callback_link_us_median",
                            "audio callback: the link, us a block")):
        ax.bar(["view"], [result[key]], color="tab:blue")
        ax.set_title(label, fontsize=8)
        ax.text(0, result[key], f"{result[key]}", ha="center", va="bottom")
    fig.suptitle(f"rtsynth --ui view process, {result['terminal']}, "
                 f"{result['frames_per_s']} frames/s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cpu(pid):
    """The process's user + system CPU time in seconds, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
