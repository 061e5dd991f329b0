"""JumpGate: spectral changes redo frames only near the start of a motion."""

from rtsynth.engine.jumps import JumpGate
from rtsynth.engine.smoothing import RAMP_SAMPLES


def test_a_change_from_rest_gets_the_click_free_ramp_then_hops_until_the_burst_ends():
    gate = JumpGate(512, burst=4)  # rest 2 hops
    assert gate.ramp(10_000) == RAMP_SAMPLES  # first change of a motion
    assert gate.ramp(10_512) == 512  # in a row: crossfades that join up
    assert gate.ramp(11_536) == 512
    assert gate.ramp(12_048) == 0  # 4 hops after the start: fade in over the window
    assert gate.ramp(12_560) == 0  # a motion that goes on never redoes again...
    assert gate.ramp(12_560 + 1025) == RAMP_SAMPLES  # ...until it rests for 2 hops


def test_reset_is_rest():
    gate = JumpGate(100)
    gate.ramp(0)
    gate.ramp(150)
    gate.reset()
    assert gate.ramp(160) == RAMP_SAMPLES


def test_the_bucket_rations_redos_and_refills_with_the_clock():
    gate = JumpGate(512, capacity=2, refill=1000)
    assert gate.take(0) and gate.take(0) and not gate.take(10)
    assert not gate.take(400)  # 0.8 of a token
    assert gate.take(500)  # 1.0
    assert gate.take(5000) and gate.take(5000) and not gate.take(5000)  # never above capacity
