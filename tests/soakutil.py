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
import time

import numpy as np

import jackutil

__all__ = ["storm_events", "run_soak", "idle_baseline", "rss_kb", "rss_growth"]



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
    env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "rtsynth", "play", instrument,
                             "--backend", "jack", "--jack-name", name, "--model", str(model),
                             *map(str, extra_args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL, cwd=cwd)
    st = {"armed": False, "i": 0, "events": 0, "xruns": 0, "peak": 0.0, "bad": 0, "n": 0}
    rss = []
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

            @rc.set_process_callback
            def record_cycle(frames):
                if not st["armed"]:
                    return
                a = audio_in.get_array()
                bad = int(np.count_nonzero(~np.isfinite(a)))
                st["bad"] += bad
                st["peak"] = max(st["peak"], float(np.max(np.abs(a[np.isfinite(a)]),
                                                          initial=0.0)))
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
            while time.monotonic() - t0 < seconds:
                r = rss_kb(proc.pid)
                if proc.poll() is not None or r is None:
                    break
                rss.append((round(time.monotonic() - t0, 2), r))
                time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - t0))))
            elapsed = time.monotonic() - t0
            st["armed"] = False
            # stop rtsynth while the storm client still exists: a source that went away
            # first would (rightly) be reported on stderr, which must stay empty
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
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
           "recorded": st["n"], "rss": rss}
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
    count = [0]
    with jackutil.client("rtsoak-idle", server) as c:
        c.set_xrun_callback(lambda usecs: count.__setitem__(0, count[0] + 1))
        c.set_process_callback(lambda frames: None)
        c.activate()
        time.sleep(seconds)
        c.deactivate()
    return count[0]
