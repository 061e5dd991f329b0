"""EventQueue: bounded SPSC ring — full/drop, wraparound, order, both consumer APIs, threads."""

import threading

import numpy as np
import pytest

from rtsynth.control.events import EventQueue
from rtsynth.errors import InputError


def drained(q, limit=None):
    out = []
    q.drain(lambda *ev: out.append(ev), limit)
    return out


def test_push_then_drain_keeps_order_and_values():
    q = EventQueue(8)
    assert len(q) == 0 and drained(q) == []
    assert q.push(5, 0x90, 60, 100)
    assert q.push(7, 0x80, 60, 0)
    assert q.push(2**40, 0xE0, 0, 64)  # int64 offsets (absolute frame times)
    assert len(q) == 3
    assert drained(q) == [(5, 0x90, 60, 100), (7, 0x80, 60, 0), (2**40, 0xE0, 0, 64)]
    assert len(q) == 0 and q.dropped == 0


def test_full_queue_refuses_and_counts_drops():
    q = EventQueue(4)
    assert all(q.push(i, 0x90, i, 1) for i in range(4))
    assert not q.push(99, 0x90, 99, 1)
    assert not q.push(100, 0x90, 100, 1)
    assert q.dropped == 2 and len(q) == 4
    # the queued events are the first four, untouched by the refused pushes
    assert [e[0] for e in drained(q)] == [0, 1, 2, 3]
    assert q.push(5, 0x80, 5, 0)  # room again
    assert q.dropped == 2


def test_wraparound_many_times_keeps_fifo_order():
    q = EventQueue(5)
    expect, got, t = [], [], 0
    for round_ in range(60):
        for _ in range(round_ % 5 + 1):  # 1..5 pushes, then a partial drain: fills up at times
            ev = (t, 0x90, t % 128, (t * 7) % 128)
            if q.push(*ev):
                expect.append(ev)
            t += 1
        q.drain(lambda *ev: got.append(ev), limit=round_ % 4 + 1)
    q.drain(lambda *ev: got.append(ev))
    assert got == expect
    assert q.dropped > 0 and len(expect) + q.dropped == t
    assert q.pushed == q.popped == len(expect) > 3 * q.capacity


def test_drain_limit_leaves_the_rest():
    q = EventQueue(8)
    for i in range(6):
        q.push(i, 0xB0, 21, i)
    assert [e[0] for e in drained(q, limit=4)] == [0, 1, 2, 3]
    assert len(q) == 2
    assert [e[0] for e in drained(q)] == [4, 5]


def test_drain_handler_exception_keeps_failing_event():
    q = EventQueue(4)
    for i in range(3):
        q.push(i, 0x90, i, 1)
    seen = []

    def handler(offset, *rest):
        if offset == 1:
            raise RuntimeError("boom")
        seen.append(offset)

    with pytest.raises(RuntimeError):
        q.drain(handler)
    assert seen == [0] and len(q) == 2
    assert [e[0] for e in drained(q)] == [1, 2]


def test_pop_into_wraps_and_respects_output_size():
    q = EventQueue(6)
    bufs = q.new_buffers(4)
    for i in range(5):
        q.push(i, 0x90, i, 10 + i)
    assert q.pop_into(*bufs) == 4  # limited by the output length
    assert bufs[0].tolist() == [0, 1, 2, 3] and bufs[3].tolist() == [10, 11, 12, 13]
    for i in range(5, 10):  # head wraps past the end of the ring
        assert q.push(i, 0x80, i, 0)
    assert len(q) == 6 and not q.push(10, 0x80, 10, 0)
    off, st, d1, d2 = q.new_buffers()
    n = q.pop_into(off, st, d1, d2)
    assert n == 6
    assert off[:n].tolist() == [4, 5, 6, 7, 8, 9]
    assert st[:n].tolist() == [0x90] + [0x80] * 5
    assert d2[:n].tolist() == [14, 0, 0, 0, 0, 0]
    assert q.pop_into(off, st, d1, d2) == 0


def test_clear_discards_everything():
    q = EventQueue(4)
    for i in range(3):
        q.push(i, 0x90, i, 1)
    assert q.clear() == 3 and len(q) == 0 and drained(q) == []
    assert q.push(1, 0x80, 1, 0) and drained(q) == [(1, 0x80, 1, 0)]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_bad_capacity(bad):
    with pytest.raises(InputError, match="capacity"):
        EventQueue(bad)


def test_push_and_pop_allocate_no_arrays():
    """The slots are the same arrays before and after traffic (nothing is regrown)."""
    q = EventQueue(16)
    ids = [id(a) for a in (q.offset, q.status, q.data1, q.data2)]
    bufs = q.new_buffers(8)
    for i in range(100):
        q.push(i, 0x90, i % 128, 1)
        if i % 3 == 0:
            q.pop_into(*bufs)
    assert [id(a) for a in (q.offset, q.status, q.data1, q.data2)] == ids
    assert q.offset.dtype == np.int64 and q.status.dtype == np.uint8


def test_threads_spsc_no_loss_no_reorder():
    """One producer thread, one consumer thread, a small ring: every accepted event arrives once, in order."""
    q = EventQueue(8)
    n = 20000
    accepted = []
    got = []
    done = threading.Event()

    def producer():
        for i in range(n):
            if q.push(i, 0x90 | (i % 16), i % 128, (i >> 7) % 128):
                accepted.append(i)
        done.set()

    bufs = q.new_buffers(3)

    def consumer():
        while True:
            finished = done.is_set()
            k = q.pop_into(*bufs)
            got.extend(bufs[0][:k].tolist())
            if finished and k == 0 and len(q) == 0:
                break

    threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert got == accepted
    assert len(accepted) + q.dropped == n
