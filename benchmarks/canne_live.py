"""CANNe live on a JACK dummy server: DSP load and xruns with N held voices.

Starts a private JACK dummy server (48 kHz / 256), runs ``rtsynth play canne
--backend jack`` as a subprocess (as a musician would), holds N notes for
``--seconds`` while two knobs move (the decoder runs at every control tick),
then stops it with SIGINT and reads its exit line (DSP load median / p99 / max
as % of the period, and the xrun count). The same duration with an idle JACK
client gives the server's own xrun baseline on this machine.

Writes ``benchmarks/results/canne_live.json`` / ``.png`` (``canne_live_rt.*`` with
``--realtime``: jackd -R, SCHED_FIFO for the server and the clients' process threads,
as JACK runs on stage; the default ``--no-realtime`` leaves them to the ordinary
scheduler of this shared machine).
``--precision int8`` runs the bundle's int8 variant (files ``*_int8.*``).
Usage: ``python benchmarks/canne_live.py [--model models/canne] [--voices 8 32] [--seconds 60]
[--hop 512] [--realtime] [--precision int8]``
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the private-JACK-server helper the tests use

import jackutil  # noqa: E402
from soakutil import idle_run, watch_steal, with_attribution  # noqa: E402

NAME = "rtbench"


def run_voices(server, model, voices, seconds, hop, precision="fp32"):
    env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "rtsynth", "play", "canne", "--backend", "jack",
                             "--model", str(model), "--jack-name", NAME, "--voices", str(voices),
                             "--hop", str(hop), "--precision", precision],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        notes = [36 + (i * 5) % 60 for i in range(voices)]
        state = {"t": 0, "armed": False, "sent": False}
        with jackutil.client("rtbench-midi", server) as c:
            out = c.midi_outports.register("out")

            c.set_process_callback(lambda frames: write_load(out, frames, state, notes))

            c.activate()
            deadline = time.monotonic() + 60
            while not c.get_ports(f"{NAME}:midi_in"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rtsynth play did not start: {proc.communicate()}")
                time.sleep(0.1)
            time.sleep(0.5)
            c.connect(out, f"{NAME}:midi_in")
            state["armed"] = True
            with jackutil.harness_rules():
                steal = watch_steal(seconds)
            c.deactivate()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    load = jackutil.parse_load(stdout)
    if load is None:
        raise RuntimeError(f"no DSP load line in rtsynth's output:\n{stdout}\n{stderr}")
    return {"voices": voices, "seconds": seconds, **load, "steal": steal,
            "start_line": next((l for l in stdout.splitlines() if "latency:" in l), "")}


def write_load(out, frames, state, notes):
    """One period of the load (a JACK process callback): once ``state["armed"]``, the
    held ``notes`` at the first period, then CC 21 and 22 every 8 periods (~43 ms).

    The chord is pressed again (off, then on) 64 periods later: a period whose
    cycle was an xrun loses its MIDI, and a chord sent once could be lost whole
    (one 32-voice run measured an idle synth that way)."""
    out.clear_buffer()
    if not state["armed"]:
        return
    if not state["sent"] or state["t"] == 64:
        j = 0
        if state["sent"]:
            for n in notes:
                out.write_midi_event(min(frames - 1, j * frames // (2 * len(notes))),
                                     bytes([0x80, n, 0]))
                j += 1
        for n in notes:
            out.write_midi_event(min(frames - 1, j * frames // (2 * len(notes))),
                                 bytes([0x90, n, 100]))
            j += 1
        state["sent"] = True
    state["t"] += 1
    if state["t"] % 8 == 0:
        v = (state["t"] // 8) % 128
        out.write_midi_event(0, bytes([0xB0, 21, v]))
        out.write_midi_event(1, bytes([0xB0, 22, 127 - v]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "canne"))
    ap.add_argument("--voices", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hop", type=int, default=256, help="synthesis hop passed to rtsynth play")
    ap.add_argument("--precision", choices=["fp32", "int8"], default="fp32",
                    help="the models rtsynth play runs (its --precision)")
    jackutil.add_realtime_option(ap)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    if not (Path(args.model) / "manifest.json").is_file():
        print(f"canne_live: expected a model bundle at {args.model}, found none "
              f"(pass --model)", file=sys.stderr)
        return 1
    server = jackutil.start_server(rate=48000, blocksize=256, realtime=args.realtime)
    try:
        res = {"benchmark": "canne_live", "date": time.strftime("%Y-%m-%d"), "rate": 48000,
               "block": 256, "hop": args.hop, "model": str(args.model),
               "precision": args.precision,
               "jackd": " ".join(jackutil.scheduling_flags(args.realtime)),
               "runs": []}
        idle = idle_run(server, args.seconds)
        res.update(idle_xruns=idle["xruns"], idle_xruns_during_steal=idle["during_steal"])
        print(f"idle client: {res['idle_xruns']} xruns in {args.seconds:.0f} s "
              f"({idle['during_steal']} while the hypervisor stalled this machine)")
        for v in args.voices:
            r = with_attribution(server, lambda: run_voices(server, args.model, v, args.seconds,
                                                            args.hop, args.precision))
            r.pop("steal")
            res["runs"].append(r)
            a = r.get("xrun_attribution", {})
            print(f"{v:3d} voices: DSP load median {r['load_median']:.1f} %, p99 "
                  f"{r['load_p99']:.1f} %, max {r['load_max']:.1f} %; xruns {r['xruns']} "
                  f"(rtsynth's blocks around them: {a.get('overran', '?')} overran, "
                  f"{a.get('started_late', '?')} started late, {a.get('elsewhere', '?')} on "
                  f"time; {sum(v for k, v in a.items() if k.endswith('_steal'))} of all during "
                  f"hypervisor steal); callback start p99 {r.get('start_p99_ms', float('nan')):.2f} ms, max "
                  f"{r.get('start_max_ms', float('nan')):.2f} ms; jackd named late: "
                  f"{r['jackd_not_finished']}")
    finally:
        jackutil.stop_server(server)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = ("canne_live_rt" if args.realtime else "canne_live") + (
        "" if args.precision == "fp32" else f"_{args.precision}")
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1))
    _plot(res, out / f"{stem}.png")
    print(f"wrote {out / (stem + '.json')}")
    return 0


def _plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = res["runs"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = range(len(runs))
    ax.bar(x, [r["load_median"] for r in runs], label="median")
    ax.errorbar(x, [r["load_median"] for r in runs],
                yerr=[[0] * len(runs), [r["load_max"] - r["load_median"] for r in runs]],
                fmt="none", ecolor="k", capsize=4, label="max")
    ax.axhline(70, color="r", ls=":", label="70 % target")
    ax.set_xticks(list(x), [f"{r['voices']} voices\n{r['xruns']} xruns" for r in runs])
    ax.set_ylabel("DSP load, % of a 256-sample period")
    ax.set_title(f"rtsynth play canne ({res.get('precision', 'fp32')}) on JACK dummy "
                 f"48 kHz/256, {runs[0]['seconds']:.0f} s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
