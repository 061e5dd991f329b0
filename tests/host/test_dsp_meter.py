"""The DSP meter's summary and exit line, and the soak's attribution of xruns."""

import numpy as np
import pytest

import soakutil
from rtsynth.host.runtime import DspMeter

RATE = 48000


def test_report_gives_load_xruns_and_callback_start():
    m = DspMeter(capacity=8)
    period_ns = 256 * 1e9 / RATE
    for i in range(10):  # wraps the ring: the last 8 blocks count
        m.record(int(period_ns * (0.1 if i < 9 else 0.5)), 256, start_ns=i, late=48 * (i % 2))
    m.xrun(123)
    med, p99, mx, n = m.summary(RATE)
    assert n == 8 and med == pytest.approx(10.0) and mx == pytest.approx(50.0)
    late_p99, late_max, n_late = m.lateness(RATE)
    assert n_late == 8 and late_max == pytest.approx(1.0)  # 48 frames at 48 kHz
    line = m.report(RATE)
    assert line.startswith("DSP load: median 10.0 %") and "xruns: 1" in line
    assert line.endswith("callback start after the cycle's: p99 1.00 ms, max 1.00 ms")
    assert m.xrun_ns[0] == 123


def test_loads_are_the_last_blocks_oldest_first_across_the_wrap():
    m = DspMeter(capacity=8)
    period_ns = 256 * 1e9 / RATE
    for i in range(11):  # wraps the ring
        m.record(int(period_ns * i / 100), 256)
    assert m.loads(RATE, 3) == pytest.approx([8.0, 9.0, 10.0], abs=1e-3)  # whole ns
    assert m.loads(RATE, 100).size == 8  # at most what the ring holds
    assert m.loads(RATE, 0).size == 0


def test_report_without_lateness_is_the_plain_line():
    m = DspMeter(capacity=4)
    m.record(1000, 256)  # a backend that cannot tell (PortAudio): late = -1
    assert np.isnan(m.lateness(RATE)[0])
    assert m.report(RATE).endswith("xruns: 0")


def _trace(n=100, period_ns=5_333_333):
    return {"start_ns": np.arange(n, dtype=np.int64) * period_ns + 10**9,
            "ns": np.full(n, 1_000_000, np.int64), "frames": np.full(n, 256, np.int32),
            "late": np.full(n, 5, np.int32)}


def test_attribution_sorts_xruns_by_what_the_callback_did():
    t = _trace(1000)  # 5.3 s of blocks
    t["ns"][20] = 6_000_000  # longer than the period
    t["late"][500] = 220  # began 4.6 ms into the cycle, 1 ms of work
    s = t["start_ns"]
    t["xrun_ns"] = np.array([s[0] - 10**9, s[22] + 1, s[502] + 1, s[900] + 1])
    steal = [(int(s[0]), 100), (int(s[880]), 100), (int(s[920]), 101)]  # stolen near the last
    a = soakutil.attribute_xruns(t, RATE, steal)
    assert (a["untraced"], a["overran"], a["started_late"], a["elsewhere"]) == (1, 1, 1, 1)
    assert a["elsewhere_steal"] == 1 and a["overran_steal"] == 0
    assert [w[0] for w in a["worst"]] == ["overran", "started_late", "elsewhere"]


def test_late_clients_counts_jackd_log_lines():
    log = ("JackEngine::XRun: client = rtsoak was not finished, state = Running\n"
           "JackAudioDriver::ProcessGraphAsyncMaster: Process error\n"
           "JackEngine::XRun: client = rtsoak-rec was not finished, state = Triggered\n"
           "JackEngine::XRun: client = rtsoak was not finished, state = Triggered\n")
    assert soakutil.late_clients(log) == {"rtsoak": 2, "rtsoak-rec": 1}
