"""Pieces both live backends share: event slots, DSP-load ring, interpreter settings, warm-up.

Everything here is built before a stream starts; what the audio callback calls
(:class:`EventSlots`, :meth:`DspMeter.record`) allocates no containers.
"""

import contextlib
import gc
import sys
import time

import numpy as np

__all__ = ["EventSlots", "DspMeter", "ring_loads", "realtime_python", "warm_up", "prefault", "SWITCH_INTERVAL",
           "latency_line", "default_automation"]

#: Python switch interval while a stream runs (design.md: measured 1,315 -> 4 xruns)
SWITCH_INTERVAL = 0.0005


class EventSlots:
    """A fixed-capacity list of ``[offset, command]`` slots for one audio period.

    Looks like a sequence of ``(offset, command)`` to
    :func:`rtsynth.engine.schedule.render_with_events` (``len`` and indexing);
    calling it with a command (the :meth:`CommandMapper.map` ``out`` protocol)
    stores the command at the current :attr:`offset`. Events beyond the
    capacity are counted in :attr:`dropped` and ignored. Nothing is allocated
    per event.
    """

    __slots__ = ("slots", "n", "offset", "capacity", "dropped")

    def __init__(self, capacity=512):
        self.capacity = int(capacity)
        self.slots = [[0, None] for _ in range(self.capacity)]
        self.n = 0
        self.offset = 0
        self.dropped = 0

    def clear(self):
        slots = self.slots
        for i in range(self.n):
            slots[i][1] = None  # drop references to old commands
        self.n = 0

    def __call__(self, command):
        n = self.n
        if n >= self.capacity:
            self.dropped += 1
            return
        slot = self.slots[n]
        slot[0] = self.offset
        slot[1] = command
        self.n = n + 1

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.slots[i]


class DspMeter:
    """Per-block callback time in a preallocated ring; summarises as % of the period."""

    def __init__(self, capacity=1 << 17):  # 11 minutes of 256-frame blocks at 48 kHz
        self.ns = np.zeros(capacity, dtype=np.int64)
        self.start_ns = np.zeros(capacity, dtype=np.int64)  # perf_counter_ns at block start
        self.frames = np.zeros(capacity, dtype=np.int32)
        # frames between the server's cycle start and the callback's first line
        # (JACK only; -1 where the backend cannot tell): upstream clients and the
        # wait for the interpreter lock, which the block's own time does not see
        self.late = np.full(capacity, -1, dtype=np.int32)
        self.mask = capacity - 1
        assert capacity & self.mask == 0, "capacity must be a power of two"
        self.count = 0
        self.xruns = 0
        self.xrun_ns = np.zeros(1024, dtype=np.int64)  # perf_counter_ns of the first 1,024

    def xrun(self, now_ns=0):
        """Count an xrun (and keep its time, for the trace)."""
        if self.xruns < self.xrun_ns.size:
            self.xrun_ns[self.xruns] = now_ns
        self.xruns += 1

    def record(self, elapsed_ns, frames, start_ns=0, late=-1):
        i = self.count & self.mask
        self.ns[i] = elapsed_ns
        self.late[i] = late
        self.start_ns[i] = start_ns
        self.frames[i] = frames
        self.count += 1

    def summary(self, rate):
        """(median %, p99 %, max %, blocks measured) of each block's time over its period."""
        n = min(self.count, self.mask + 1)
        if n == 0 or not rate:
            return (float("nan"),) * 3 + (0,)
        period_ns = self.frames[:n].astype(np.float64) * 1e9 / rate
        load = 100.0 * self.ns[:n] / np.maximum(period_ns, 1.0)
        return (float(np.median(load)), float(np.percentile(load, 99)), float(load.max()), n)

    def loads(self, rate, last):
        """Each of the last ``last`` blocks' time as % of its period, oldest first
        (for a view; not on the audio path: it allocates)."""
        return ring_loads(self.ns, self.frames, self.count, last, rate)

    def save(self, path):
        """Write the ring, oldest block first, as a .npz of ``start_ns``, ``ns`` and
        ``frames`` (for finding when the slow blocks happen; not on the audio path)."""
        n = min(self.count, self.mask + 1)
        order = (np.arange(n) + (self.count - n)) & self.mask
        np.savez(path, start_ns=self.start_ns[order], ns=self.ns[order], frames=self.frames[order],
                 late=self.late[order], xrun_ns=self.xrun_ns[:min(self.xruns, self.xrun_ns.size)])

    def lateness(self, rate):
        """(p99 ms, max ms, blocks measured) of the callback's start after the cycle's
        start; (nan, nan, 0) where the backend does not report it."""
        n = min(self.count, self.mask + 1)
        late = self.late[:n]
        late = late[late >= 0]
        if late.size == 0 or not rate:
            return float("nan"), float("nan"), 0
        ms = late.astype(np.float64) * 1e3 / rate
        return float(np.percentile(ms, 99)), float(ms.max()), int(late.size)

    def report(self, rate):
        med, p99, mx, n = self.summary(rate)
        if n == 0:
            return f"DSP load: no blocks processed; xruns: {self.xruns}"
        line = (f"DSP load: median {med:.1f} %, p99 {p99:.1f} %, max {mx:.1f} % of the period "
                f"({n} blocks); xruns: {self.xruns}")
        late_p99, late_max, n_late = self.lateness(rate)
        if n_late:
            line += f"; callback start after the cycle's: p99 {late_p99:.2f} ms, max {late_max:.2f} ms"
        return line


def ring_loads(ns, frames, count, last, rate):
    """The last ``last`` of ``count`` blocks recorded in a ring (``ns``: each block's time
    in ns, ``frames``: its length; a power-of-two size), as % of their periods, oldest
    first (for a view; it allocates)."""
    n = max(0, min(last, count, ns.shape[0]))
    idx = np.arange(count - n, count) & (ns.shape[0] - 1)
    return 100.0 * ns[idx] * rate / (1e9 * np.maximum(frames[idx], 1))


@contextlib.contextmanager
def realtime_python():
    """Short switch interval and no cyclic GC while a stream runs; restored on exit.

    Call :func:`gc_freeze_after_warmup` (or ``gc.freeze()``) once everything
    the callback touches exists, so the frozen objects are never scanned.
    """
    old_interval = sys.getswitchinterval()
    was_enabled = gc.isenabled()
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        sys.setswitchinterval(old_interval)


def warm_up(engine, block):
    """Run every code path the callback will (numba kernels for the host's float32
    buffers, decoder, encoder, voices, resamplers), then reset.

    ``engine`` is a CanneSynth, or a Chain of a synth or an audio input and an
    effect. It comes back silent, at clock 0, with its latents, knobs, wet,
    bend and sustain as before.
    """
    synth = getattr(engine, "source", engine)
    synth = synth if hasattr(synth, "note_on") else None
    effect = getattr(engine, "effect", None)
    lengths = [getattr(synth, "n_fft", 0)]
    if synth is not None:
        synth.load_kernels()  # also those this warm-up's spectrum would not reach
        latents = synth.latents
        synth.note_on(60, 100)
        synth.note_on(64, 80)
    if effect is not None:
        effect.load_kernels()  # a knob move's redo too, whether or not frames are ready
        knobs, wet, bypass = list(effect.knobs), effect.wet, effect.bypass
        effect.bypass = False
        lengths.append(effect.latency_samples + effect.manifest.n_fft)
    buf = np.zeros(block, dtype=np.float32)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, block).astype(np.float32)
    n_blocks = max(8, 2 * -(-max(lengths) // block))
    for i in range(n_blocks):
        if i == 2 and synth is not None:
            synth.pitch_bend(0.5)
            synth.set_latent_normalized(0, 0.3)
        if i == 2 and effect is not None:
            effect.set_knob(0, 2.0)
            effect.set_wet(0.5)  # the dry/wet ramp
        if getattr(engine, "needs_input", False):
            engine.feed(noise)
        engine.process(buf)
    if synth is not None:
        synth.sustain(True)
        synth.note_off(60)
        synth.sustain(False)
        synth.note_off(64)
        engine.process(buf)
        synth.pitch_bend(0.0)
        synth.set_latents(latents)
    if effect is not None:
        effect.set_knobs(knobs)
        effect.set_wet(wet)
        effect.bypass = bypass
    engine.reset()
    prefault(engine)
    t = time.perf_counter_ns()  # touch the timers once
    del t


def prefault(engine):
    """Write one element per memory page of every numpy array ``engine`` owns (its
    voices, phase reconstructors, overlap-adds... found by walking rtsynth objects),
    writing back the value it holds; returns the bytes touched.

    ``np.zeros`` maps pages lazily: the first write to each one is a page fault
    (a kernel trap and a page zeroed). A voice a warm-up does not play would take
    those faults in the block of its first note: measured with 32 voices, the
    first chord made 1,760 faults and cost 3.4 ms more over its first 10 blocks
    than the next chord (`tests/host/test_rt_safety.py` counts them).
    """
    seen, total = set(), 0
    stack = [engine]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            total += _touch_pages(obj)
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif type(obj).__module__.startswith("rtsynth.") and hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
    return total


def default_automation(mapper, rate, engine=None):
    """The parameter automation a host runs when none is given: the one the
    session attached to the mapper (:meth:`rtsynth.host.controls.Controls.attach`),
    else one for the mapper's parameters, with ``engine``'s glide leads (None for a
    mapper without any)."""
    from ..control import Automation

    if getattr(mapper, "automation", None) is not None:
        return mapper.automation
    specs = getattr(mapper, "specs", None)
    return None if specs is None else Automation(specs, rate,
                                                 leads=getattr(engine, "glide_lead", None))


def latency_line(model, backend, rate, block, details, latency):
    """The one start-up line: model, backend, rate, block, engine details, latency in samples and ms."""
    return (f"rtsynth: model {model}, backend {backend}, {rate} Hz, block {block}, {details}, "
            f"latency: {latency} samples ({1000.0 * latency / rate:.1f} ms)")


def _touch_pages(a, page=4096):
    """Rewrite one element per page of a writeable contiguous array; its size in bytes."""
    if not (a.flags.writeable and a.flags.c_contiguous) or a.size == 0 or a.dtype == object:
        return 0
    flat = a.reshape(-1)
    step = max(1, page // a.itemsize)
    flat[::step] = flat[::step].copy()
    return a.nbytes
