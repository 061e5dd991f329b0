"""JACK end to end: `rtsynth play anne --backend jack` as a user runs it, fed and recorded.

One test client writes a known signal into ``rt-anne:in_1`` and MIDI into
``rt-anne:midi_in``; another records ``rt-anne:out_1``. The graph runs feeder
-> rtsynth -> recorder within each cycle (no feedback loop), so the delay
from ``in_1`` to ``out_1`` is rtsynth's own, exactly. The feeder also writes
its sample count (1, 2, ...) on a reference port wired straight to the
recorder, and the recording is aligned on it: both paths reach the recorder
in the same cycle, also in a cycle a late client disorders under load (then
both carry the same stale period), where counting cycles in each test client
would put the two streams a period apart. ``last_frame_time`` is not used,
since a callback that runs late on this loaded machine reads the next
cycle's time.
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import jackutil
from clirun import one_line_error, run_cli
from model_bundles import make_bundle
from rtsynth.engine import AnneEffect
from rtsynth.model import load_bundle
from synth_bundles import make_identity_bundle, make_synth_bundle

pytestmark = pytest.mark.jack

NAME = "rt-anne"
LATENCY = re.compile(r"latency: (\d+) samples \((\d+(?:\.\d+)?) ms\)")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    # identity autoencoders: knob gains scale their own bins (latent = spectrum), so a
    # knob's effect on the spectrum is known; both run at a rate the server does not
    return {"id16k": make_identity_bundle(root / "id16"),  # n_fft 64: 250 Hz per latent
            "id22k": make_identity_bundle(root / "id22", n_fft=256, hop=64, sample_rate=22050),
            "tiny": make_bundle(root / "tiny")}


def play_through(server, args, feed, schedule):
    """Run ``rtsynth play anne ARGS``, feed ``feed`` into in_1 with ``schedule`` [(frame, MIDI
    bytes)] on midi_in, record out_1 for ``feed.size`` frames; return (recording, stdout)."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=server.name, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "rtsynth", "play", "anne", "--backend", "jack",
                             "--jack-name", NAME, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    period = server.blocksize
    size = feed.size + 16 * period  # the recorder may start some cycles before the feeder
    got = np.full(size, np.nan, dtype=np.float32)
    ref = np.full(size, np.nan, dtype=np.float32)
    count = np.arange(1, feed.size + 1, dtype=np.float32)  # exact in float32 below 2**24
    state = {"armed": False, "feed": None, "rec": None, "i": 0}
    try:
        with jackutil.client("rt-feed", server) as fc, jackutil.client("rt-rec", server) as rc:
            audio_out = fc.outports.register("out")
            ref_out = fc.outports.register("ref")
            midi_out = fc.midi_outports.register("midi_out")
            audio_in = rc.inports.register("in")
            ref_in = rc.inports.register("ref")

            @fc.set_process_callback
            def feed_cycle(frames):
                buf, mark = audio_out.get_array(), ref_out.get_array()
                buf.fill(0.0)
                mark.fill(0.0)
                midi_out.clear_buffer()
                pos = _count(state, "feed", state["armed"], frames)
                if pos is not None:
                    n = max(0, min(frames, feed.size - pos))
                    buf[:n] = feed[pos:pos + n]
                    mark[:n] = count[pos:pos + n]
                    state["i"] = jackutil.write_due_midi(midi_out, schedule, state["i"], pos,
                                                         frames)

            @rc.set_process_callback
            def record_cycle(frames):
                pos = _count(state, "rec", state["armed"], frames)
                if pos is not None and pos < size:
                    n = min(frames, size - pos)
                    got[pos:pos + n] = audio_in.get_array()[:n]
                    ref[pos:pos + n] = ref_in.get_array()[:n]

            fc.activate()
            rc.activate()
            jackutil.wait_for_port(fc, f"{NAME}:in_1", proc, timeout=90)
            time.sleep(0.5)
            fc.connect(audio_out, f"{NAME}:in_1")
            fc.connect(midi_out, f"{NAME}:midi_in")
            fc.connect(ref_out, ref_in)
            rc.connect(f"{NAME}:out_1", audio_in)
            assert {f"{NAME}:in_1", f"{NAME}:out_1", f"{NAME}:out_2", f"{NAME}:midi_in"} <= {
                p.name for p in fc.get_ports(f"{NAME}:")}
            time.sleep(0.5)  # graph changes cause xruns of their own: let them pass first
            state["armed"] = True
            jackutil.wait_recorded(proc, lambda: not np.isnan(got[-1]),
                                   lambda: "the recorder stopped receiving audio")
        proc.send_signal(signal.SIGINT)
        out, err = jackutil.communicate_or_dump(proc, 20, server)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and "Traceback" not in err, err
    return _aligned(got, ref, feed.size), out


def _aligned(got, ref, size):
    """The recording from the cycle where the feeder's first sample reached the recorder
    (reference count 1), ``size`` samples, as float64."""
    started = np.flatnonzero(ref > 0)
    assert started.size, "the reference port carried nothing"
    first = int(started[0]) - int(ref[started[0]]) + 1
    if first < 0:  # the recorder's first cycle came late, after the feeder's (an xrun)
        raise Disordered(f"the recorder started {-first} samples after the feeder")
    rec = got[first:first + size].astype(np.float64)
    assert rec.size == size and not np.isnan(rec).any(), "the recording is short"
    return rec


class Disordered(Exception):
    """A session the server disordered under load before the feed could be aligned."""


def _count(state, key, start, frames):
    """A test client's position in its stream: None until ``start``, then 0, frames, ..."""
    if state[key] is None:
        if not start:
            return None
        state[key] = 0
    pos = state[key]
    state[key] = pos + frames
    return pos


def period_delays(rec, ref, lag, period, stop, atol=0.0):
    """For each recorded period before ``stop``: the delay ``d`` (``lag`` plus or minus whole
    periods) at which it equals ``ref[t - d]`` within ``atol``, or None when at none."""
    delays = []
    for start in range(lag - lag % period + period, stop - period, period):
        chunk = rec[start:start + period]
        found = None
        for d in sorted(range(lag - 4 * period, lag + 5 * period, period),
                        key=lambda d: abs(d - lag)):
            if 0 <= start - d and np.allclose(chunk, ref[start - d:start - d + period],
                                              rtol=0.0, atol=atol):
                found = d
                break
        delays.append(found)
    return delays


def held_at(delays, lag):
    """Periods matched at exactly ``lag``, or 0 unless the first matched period is one:
    a dropped cycle can move all that follows by whole periods, never what precedes it."""
    first = next((d for d in delays if d is not None), None)
    return sum(d == lag for d in delays) if first == lag else 0


def printed_latency(out, rate):
    m = LATENCY.search(out)
    assert m, out
    n = int(m.group(1))
    assert float(m.group(2)) == pytest.approx(1000 * n / rate, abs=0.05)
    return n


def band_spectrum(x, n_fft=1024):
    """Magnitude spectrum in dB, 16 bands up to the 8 kHz model Nyquist: the median over
    half-overlapping Hann frames. A period garbled by an xrun clicks across the spectrum
    and, in the mean, lifted the top band (the resampler's band edge, weak) by 3 dB over
    a run (CI; 20 repeated periods in a simulation); the median does not see it."""
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::n_fft // 2] * np.hanning(n_fft)
    mag = np.median(np.abs(np.fft.rfft(frames, axis=1)), axis=0)[1:n_fft // 6]
    return 20 * np.log10(np.array([b.mean() for b in np.array_split(mag, 16)]) + 1e-12)


def test_dry_delay_exact_and_knob_cc_changes_the_spectrum(jack_server, bundles, rng):
    """wet 0: the recording is the fed signal delayed by the printed latency, bit for bit;
    then the knob CCs move the wet spectrum.

    A cycle the server drops under load (an xrun) garbles a period or two and can move
    everything after it by a whole period, even before the feed begins (CI, stop 17: the
    whole recording one period early, with the delay line intact). So a session without
    xruns must match every period at the printed delay and be silent before it; in a
    session with xruns, the first matched period must be at exactly that delay, and the
    periods matching bit for bit there must add up to 0.25 s. A period of noise
    equal to the feed at one delay is proof of that delay; requiring them consecutive
    (stops 17-19) failed on a machine dropping a cycle every few tenths of a second.
    Under load a session may be tried five times.
    """
    rate = jack_server.rate
    period = jack_server.blocksize
    feed = np.zeros(6 * rate, dtype=np.float32)
    feed[:2 * rate] = rng.uniform(-0.3, 0.3, 2 * rate)
    feed[rate // 10:2 * rate:rate // 4] = 0.9  # impulses over the noise
    feed[2 * rate:] = rng.uniform(-0.05, 0.05, 4 * rate)  # quiet: the limiter stays out
    cc = [(2 * rate, bytes((0xB0, 34, 127)))]  # wet 0 -> 1
    # knob a (the lowest latents, 0-1.5 kHz) to 5.5, knob e (the top ones) to 0.5
    cc += [(4 * rate, bytes((0xB0, 29, 127))), (4 * rate, bytes((0xB0, 33, 0)))]
    out = "no session could be aligned"
    for attempt in range(5):
        try:
            rec, out = play_through(jack_server, ["--model", bundles["id16k"], "--wet", 0],
                                    feed, cc)
        except Disordered as e:
            out = str(e)
            continue
        n = printed_latency(out, rate)
        assert "wet path resampled" in out and "wet 0" in out
        delays = period_delays(rec, feed, n, period, 2 * rate)
        if jackutil.check_xruns(out) == 0:
            corr = np.correlate(rec[:rate], feed[:rate // 2].astype(np.float64), mode="valid")
            assert abs(int(np.argmax(corr)) - n) <= 1, (int(np.argmax(corr)), n, out)
            assert not np.any(rec[:n]), out
            assert all(d == n for d in delays), (delays, out)
            break
        if held_at(delays, n) * period >= rate // 4:
            break
    else:
        pytest.fail(f"no session in five matched 0.25 s at the printed delay: {out}")

    # wet 1, then the knob CCs: the spectrum moves, far more than between two halves of
    # one setting (the input is stationary noise)
    def spec(a, b):
        return band_spectrum(rec[int(a * rate):int(b * rate)])

    same = np.max(np.abs(spec(2.3, 3.1) - spec(3.1, 3.9)))
    moved = spec(4.3, 5.9) - spec(2.3, 3.9)  # seen: +14.7 dB low, -5.7 dB top (5.5, 0.5)
    assert moved[0] > 8.0 and moved[-1] < -3.0 and np.abs(moved[6:10]).max() < 2.0, moved
    assert np.abs(moved).max() > 5 * same
    assert np.all(np.isfinite(rec)) and np.max(np.abs(rec)) <= 1.0


@pytest.fixture(scope="module")
def wide_server(jack_server):
    """A second dummy server with 1024-frame periods (21 ms). On a loaded machine the
    256-frame server dropped a cycle every few periods (274 xruns in 4 s, callbacks
    starting 5 ms late at the p99), which left no stretch for an exact comparison; the
    comparison does not depend on the period, and a longer one absorbs that jitter.
    (``jack_server`` first: it skips or fails, as the set-up requires, without jackd.)"""
    server = jackutil.start_server(rate=48000, blocksize=1024)
    yield server
    jackutil.stop_server(server)


def test_wet_path_live_equals_offline_at_another_model_rate(wide_server, bundles):
    """Identity model at 22.05 kHz on the 48 kHz server, wet 1: the recording is what the
    engine computes offline from the same input stream, and impulses come out at the
    printed delay.

    The live engine ran on silence for some periods before the feed began, and where the
    model-rate grid falls on the feed depends on how many (48000/22050 = 320/147: the
    grid repeats every 320 samples, so with periods of 1024 = 3.2 x 320 every 5 periods).
    The offline reference is computed for each of the 5 starts; one must match. A cycle
    dropped under load (an xrun) moves the grid too, so the check needs an undisturbed
    stretch: the recording up to the first disturbance must match and hold at least
    three impulses; under load a session may be tried three times.
    """
    jack_server = wide_server
    rate = jack_server.rate
    period = jack_server.blocksize
    feed = np.zeros(3 * rate, dtype=np.float32)
    spots = np.arange(rate // 5, feed.size - rate // 5, rate // 5)
    feed[spots] = 0.5
    refs = []
    for lead in range(0, 5 * period, period):
        fx = AnneEffect(load_bundle(bundles["id22k"]), sample_rate=rate)
        x = np.concatenate([np.zeros(lead, np.float32), feed])
        y = np.zeros(x.size)
        for i in range(0, x.size, period):
            fx.process(x[i:i + period], out=y[i:i + period])
        refs.append(y[lead:])
    out = "no session could be aligned"
    for attempt in range(3):
        try:
            rec, out = play_through(jack_server, ["--model", bundles["id22k"]], feed, [])
        except Disordered as e:
            out = str(e)
            continue
        n = printed_latency(out, rate)
        assert n == fx.latency_samples
        xruns = jackutil.check_xruns(out)
        clean = 0  # periods up to the first disturbance, for the best-matching start
        for ref in refs:
            delays = period_delays(rec, ref, 0, period, feed.size, atol=1e-6)
            clean = max(clean, next((i for i, d in enumerate(delays) if d != 0), len(delays)))
        assert clean == len(delays) or xruns, (clean, len(delays), out)
        end = period * (clean + 1)  # samples before the first disturbed period
        checked = [s for s in spots if s + n + 2 * period < end]
        if len(checked) >= 3:
            break
    else:
        pytest.fail(f"no undisturbed stretch with three impulses in three sessions: {out}")
    for s in checked:
        assert int(np.argmax(np.abs(rec[s:s + rate // 5]))) == n, (s, n)


def test_canne_fx_latency_line_sums_both(jack_server, bundles, tmp_path):
    synth = make_synth_bundle(tmp_path / "synth")
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name)
    r = run_cli("play", "canne", "--backend", "jack", "--model", synth, "--fx", bundles["tiny"],
                "--knobs", "1,2,1,1,1", "--jack-name", "rt-chain", "--duration", 1, env=env,
                timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    fx = AnneEffect(load_bundle(bundles["tiny"]), sample_rate=jack_server.rate)
    # a MIDI event waits one period, then the synth (0) and the effect
    assert printed_latency(r.stdout, jack_server.rate) == jack_server.blocksize + fx.latency_samples
    assert f"fx {bundles['tiny']}" in r.stdout and "knobs a-e 1,2,1,1,1" in r.stdout


def test_portaudio_duplex_through_the_jack_host_api(jack_server, bundles):
    """PortAudio sees the private server as a host API: a duplex stream starts, reports,
    and stops cleanly; an unknown input device is one sentence listing the inputs."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server.name)
    base = ["play", "anne", "--backend", "portaudio", "--model", bundles["id16k"]]
    r = run_cli(*base, "--duration", 1.5, env=env, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    fx = AnneEffect(load_bundle(bundles["id16k"]), sample_rate=jack_server.rate)
    assert f"latency: {fx.latency_samples} samples" in r.stdout, r.stdout
    assert "of device buffering (PortAudio)" in r.stdout and "xruns:" in r.stdout
    line = one_line_error(run_cli(*base, "--input-device", "no-such-mic", env=env, timeout=120))
    assert "input_device='no-such-mic'" in line and "available input devices" in line
