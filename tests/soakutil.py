"""Soak runs: ``rtsynth play`` under a MIDI storm on a private JACK server, watched from outside.

Shared by ``benchmarks/soak.py`` (10 minutes per instrument) and
``tests/host/test_soak.py`` (one minute each). One JACK client, the storm,
writes random MIDI into ``<name>:midi_in`` (and, for ANNe, a tone plus noise
into ``<name>:in_1``); another records ``<name>:out_1`` and keeps, per second,
the peak and the count of non-finite samples. The rtsynth process's resident
memory is read from ``/proc/<pid>/status`` every second. At the end rtsynth
gets SIGINT, as from a user's Ctrl-C, and its exit line gives the DSP load and
xruns.

The storm (:func:`storm_events`): about 800 events a second on all 16
channels: note-ons and note-offs, CCs (the mapped ones and any other),
pitch bend, polyphonic and channel aftertouch, program changes, sysex of 4-48
bytes, running status (several messages in one event, which JACK MIDI does
not allow and rtsynth must drop), a note-on with velocity 0, and stray
real-time bytes.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import jackutil

__all__ = ["storm_events", "run_soak", "idle_baseline", "rss_kb", "rss_growth", "attribute_xruns",
           "late_clients", "with_attribution", "idle_run", "steal_ticks", "watch_steal"]



def storm_events(rng, periods, per_period=(2, 7)):
    """``periods`` lists of raw MIDI events (bytes), ``per_period`` (lo, hi) events each."""
    out = []
    held = []
    for _ in range(periods):
        ev = []
        for _ in range(int(rng.integers(*per_period))):
            ch = int(rng.integers(16))
            k = int(rng.integers(12))
            r = lambda n=128: int(rng.integers(n))  # noqa: E731
            if k <= 2:
                note = r()
                ev.append(bytes([0x90 | ch, note, 1 + r(127)]))
                held.append((ch, note))
            elif k == 3 and held:
                ch, note = held.pop(int(rng.integers(len(held))))
                ev.append(bytes([0x80 | ch, note, r()]) if rng.random() < 0.5
                          else bytes([0x90 | ch, note, 0]))
            elif k <= 5:
                ev.append(bytes([0xB0 | ch, int(rng.choice([r(), 21 + r(15), 64, 1])), r()]))
            elif k == 6:
                ev.append(bytes([0xE0 | ch, r(), r()]))
            elif k == 7:
                ev.append(bytes([0xA0 | ch, r(), r()]) if rng.random() < 0.5
                          else bytes([0xD0 | ch, r()]))
            elif k == 8:
                ev.append(bytes([0xC0 | ch, r()]))
            elif k == 9:
                ev.append(bytes([0xF0]) + bytes(r() for _ in range(int(rng.integers(2, 47))))
                          + bytes([0xF7]))
            elif k == 10:  # running status: three messages in one event
                ev.append(bytes([0x90 | ch, r(), 100, r(), 100, r(), 0]))
            else:
                ev.append(bytes([int(rng.choice([0xF8, 0xFA, 0xFC, 0xFE]))]))
        if len(held) > 64:  # let go of the oldest, so notes do not pile up forever
            ch, note = held.pop(0)
            ev.append(bytes([0x80 | ch, note, 0]))
        out.append(ev)
    return out


def rss_kb(pid):
    """Resident set size of ``pid`` in kB (``/proc``), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_soak(server, instrument, model, seconds, *, name="rtsoak", seed=0, cwd=None,
             extra_args=()):
    """Play ``instrument`` for ``seconds`` under the storm; return the measurements (dict).

    Keys: ``instrument``, ``seconds``, ``returncode``, ``stderr``, ``start_line``,
    ``load_median``/``load_p99``/``load_max``, ``blocks``, ``xruns`` (rtsynth's
    count), ``server_xruns`` (seen by the storm client meanwhile), ``events``
    sent and their rate, ``peak`` and ``nonfinite`` of the output, ``recorded``
    samples, ``rss`` ([(seconds since the storm began, kB)]).
    """
    rng = np.random.default_rng(seed)
    storm = storm_events(rng, 4096)
    t = np.arange(server.rate) / server.rate
    feed = (0.25 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(server.rate)
            ).astype(np.float32)
    env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, PYTHONUNBUFFERED="1",
               RTSYNTH_HANG_STACKS="1")
    proc = subprocess.Popen([sys.executable, "-m", "rtsynth", "play", instrument,
                             "--backend", "jack", "--jack-name", name, "--model", str(model),
                             *map(str, extra_args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL, cwd=cwd)
    st = {"armed": False, "i": 0, "events": 0, "xruns": 0, "peak": 0.0, "bad": 0, "n": 0,
          "storm_late": 0}
    rss, steal = [], []
    fin = np.zeros(server.blocksize, dtype=bool)  # the recorder's scratch: no allocation per cycle
    mag = np.zeros(server.blocksize, dtype=np.float32)
    try:
        start_line = proc.stdout.readline()
        if "latency:" not in start_line:
            raise RuntimeError(f"rtsynth play {instrument} did not start: {start_line}"
                               f"{proc.communicate(timeout=30)}")
        with jackutil.client(f"{name}-storm", server) as sc, \
                jackutil.client(f"{name}-rec", server) as rc:
            midi_out = sc.midi_outports.register("midi_out")
            audio_out = sc.outports.register("out")
            audio_in = rc.inports.register("in")

            @sc.set_process_callback
            def storm_cycle(frames):
                midi_out.clear_buffer()
                buf = audio_out.get_array()
                pos = (st["i"] * frames) % (feed.size - frames)
                buf[:] = feed[pos:pos + frames]
                if not st["armed"]:
                    return
                events = storm[st["i"] % len(storm)]
                for j, e in enumerate(events):
                    midi_out.write_midi_event(min(frames - 1, j * frames // len(events)), e)
                st["events"] += len(events)
                st["i"] += 1
                # how far into the cycle the storm (rtsynth's upstream) finished, in frames
                st["storm_late"] = max(st["storm_late"], sc.frames_since_cycle_start)

            @rc.set_process_callback
            def record_cycle(frames):
                if not st["armed"]:
                    return
                a = audio_in.get_array()
                if a.size != fin.size:
                    return  # a period change: not in these runs
                np.isfinite(a, out=fin)
                np.abs(a, out=mag)
                bad = fin.size - int(np.count_nonzero(fin))
                if bad:
                    st["bad"] += bad
                    mag[~fin] = 0.0
                st["peak"] = max(st["peak"], float(mag.max()))
                st["n"] += frames

            sc.set_xrun_callback(lambda usecs: st.__setitem__("xruns", st["xruns"] + 1))
            sc.activate()
            rc.activate()
            sc.connect(midi_out, f"{name}:midi_in")
            if instrument == "anne":
                sc.connect(audio_out, f"{name}:in_1")
            rc.connect(f"{name}:out_1", audio_in)
            time.sleep(0.5)  # graph changes make xruns of their own: let them pass
            st["xruns"] = 0
            st["armed"] = True
            t0 = time.monotonic()
            with jackutil.harness_rules():  # the storm and recorder must not be the late ones
                while time.monotonic() - t0 < seconds:
                    r = rss_kb(proc.pid)
                    if proc.poll() is not None or r is None:
                        break
                    rss.append((round(time.monotonic() - t0, 2), r))
                    steal.append((time.monotonic_ns(), steal_ticks()))
                    time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - t0))))
            elapsed = time.monotonic() - t0
            st["armed"] = False
            # stop rtsynth while the storm client still exists: a source that went away
            # first would (rightly) be reported on stderr, which must stay empty
            proc.send_signal(signal.SIGINT)
            out, err = jackutil.communicate_or_dump(proc, 30, server)
            sc.deactivate()
            rc.deactivate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    load = jackutil.parse_load(out)
    res = {"instrument": instrument, "model": str(model), "seconds": round(elapsed, 2),
           "returncode": proc.returncode, "stderr": err, "start_line": start_line.strip(),
           "events": st["events"], "events_per_s": round(st["events"] / max(elapsed, 1e-9), 1),
           "server_xruns": st["xruns"], "peak": st["peak"], "nonfinite": st["bad"],
           "storm_late_max_ms": round(1e3 * st["storm_late"] / server.rate, 2),
           "recorded": st["n"], "rss": rss, "steal": steal}
    if load is not None:
        res.update(load)
    return res


def rss_growth(rss, warmup):
    """(kB at the end of warm-up, growth to the end, largest growth) from ``run_soak``'s
    samples; the end is the median of the last three samples (one sample is noisy)."""
    after = [kb for t, kb in rss if t >= warmup]
    if len(after) < 2:
        return None, None, None
    base = after[0]
    end = float(np.median(after[-3:]))
    return base, end - base, max(after) - base


def idle_baseline(server, seconds):
    """xruns the server reports to an idle client in ``seconds`` (the machine's own)."""
    return idle_run(server, seconds)["xruns"]


def idle_run(server, seconds):
    """An idle client for ``seconds``: ``xruns``, their times ``xrun_ns``
    (``time.monotonic_ns``) and the hypervisor's ``steal`` meanwhile (:func:`watch_steal`)."""
    times = []
    with jackutil.client("rtsoak-idle", server) as c:
        c.set_xrun_callback(lambda usecs: times.append(time.monotonic_ns()))
        c.set_process_callback(lambda frames: None)
        c.activate()
        steal = watch_steal(seconds)
        c.deactivate()
    return {"xruns": len(times), "xrun_ns": times, "steal": steal,
            "during_steal": sum(during_steal(t, steal) for t in times)}


def steal_ticks():
    """CPU time the hypervisor gave to other guests while this machine wanted it, in
    USER_HZ ticks (10 ms) since boot (``/proc/stat``); None where not reported."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) if fields[0] == "cpu" and len(fields) > 8 else None
    except (OSError, ValueError):
        return None


def watch_steal(seconds, every=1.0):
    """Sleep ``seconds``, sampling :func:`steal_ticks` every ``every`` s; [(monotonic_ns, ticks)]."""
    out = [(time.monotonic_ns(), steal_ticks())]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(every, max(0.0, end - time.monotonic())))
        out.append((time.monotonic_ns(), steal_ticks()))
    return out


def during_steal(t_ns, steal, margin_ns=1_500_000_000):
    """True when the steal counter moved in a sample interval within ``margin_ns`` of ``t_ns``
    (the machine itself was stalled by its host around that time)."""
    for (a, ta), (b, tb) in zip(steal, steal[1:]):
        if b < t_ns - margin_ns or a > t_ns + margin_ns // 3:
            continue
        if ta is not None and tb is not None and tb > ta:
            return True
    return False


def with_attribution(server, run):
    """``run()`` (which starts ``rtsynth play`` with this process's environment) with a
    per-block DSP trace; adds ``xrun_attribution`` (:func:`attribute_xruns`) and
    ``jackd_not_finished`` (:func:`late_clients`, from the server's log meanwhile)
    to the dict it returns."""
    folder = Path(tempfile.mkdtemp(prefix="rtsynth-trace-"))
    trace = folder / "trace.npz"
    old = os.environ.get("RTSYNTH_DSP_TRACE")
    os.environ["RTSYNTH_DSP_TRACE"] = str(trace)
    offset = _log_size(server)
    try:
        r = run()
    finally:
        if old is None:
            os.environ.pop("RTSYNTH_DSP_TRACE", None)
        else:
            os.environ["RTSYNTH_DSP_TRACE"] = old
    trace_data = None
    if trace.is_file():
        with np.load(trace) as t:
            trace_data = {k: t[k] for k in t.files}
        trace.unlink()
    folder.rmdir()
    r["jackd_not_finished"] = late_clients(_log_since(server, offset))
    if trace_data is not None:
        r["xrun_attribution"] = attribute_xruns(trace_data, server.rate, r.get("steal"))
    return r


def attribute_xruns(trace, rate, steal=None, window=8):
    """Sort each xrun rtsynth saw into what its callback was doing around it.

    ``trace`` is what ``RTSYNTH_DSP_TRACE`` saved (``start_ns``, ``ns``,
    ``frames``, ``late`` per block and ``xrun_ns``). The xrun notice comes on
    JACK's notification thread a few cycles after the cycle that missed, so the
    ``window`` blocks before the notice are examined:

    - ``overran``: a block's own work took more than its period (rtsynth's fault);
    - ``started_late``: a block began so late in its cycle that its (shorter than
      a period) work ended after the cycle's end: upstream clients or the
      thread not being scheduled in time;
    - ``elsewhere``: every block in the window began and ended within its cycle
      (a stall of the cycle itself or of a client downstream);
    - ``untraced``: before the trace's ring begins.

    With ``steal`` (:func:`watch_steal` samples), each kind also counts the xruns
    during which the hypervisor stalled the machine (``<kind>_steal``): the idle
    client's xruns show what such a stall does to a client with no work at all.

    Returns
    -------
    dict
        counts per kind, and ``worst`` [(kind, max block ms, max late ms, during
        steal)] per xrun.
    """
    start, ns, frames, late = trace["start_ns"], trace["ns"], trace["frames"], trace["late"]
    kinds = ("overran", "started_late", "elsewhere", "untraced")
    counts = {k: 0 for k in kinds} | {f"{k}_steal": 0 for k in kinds}
    worst = []
    for t in trace["xrun_ns"]:
        stolen = bool(steal) and during_steal(int(t), steal)
        i = int(np.searchsorted(start, t))
        lo = max(0, i - window)
        if i <= lo:
            counts["untraced"] += 1
            counts["untraced_steal"] += stolen
            continue
        period_ns = frames[lo:i].astype(np.float64) * 1e9 / rate
        work = ns[lo:i].astype(np.float64)
        begun = np.maximum(late[lo:i], 0).astype(np.float64) * 1e9 / rate
        if np.any(work > period_ns):
            kind = "overran"
        elif np.any(begun + work > period_ns):
            kind = "started_late"
        else:
            kind = "elsewhere"
        counts[kind] += 1
        counts[f"{kind}_steal"] += stolen
        worst.append((kind, round(float(work.max()) / 1e6, 2), round(float(begun.max()) / 1e6, 2),
                      stolen))
    return {**counts, "worst": worst}


def late_clients(log_text):
    """{client: times jackd named it 'not finished' at an xrun} from the server's log."""
    out = {}
    for line in log_text.splitlines():
        if "was not finished" in line and "client = " in line:
            name = line.split("client = ", 1)[1].split(" was not finished", 1)[0]
            out[name] = out.get(name, 0) + 1
    return out


def _log_size(server):
    try:
        return os.path.getsize(server.log_path)
    except OSError:
        return 0


def _log_since(server, offset):
    try:
        with open(server.log_path, errors="replace") as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return ""
