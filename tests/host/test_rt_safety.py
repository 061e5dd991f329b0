"""Real-time safety of the audio callback: no net allocation, no blocking call, no GC inside.

The callback under test is :meth:`rtsynth.host.jack_backend.JackHost._process`
itself, on a stand-in JACK client (ports are preallocated numpy arrays, the
MIDI input yields the test's prepared events), so every event takes the path
it takes live: raw bytes -> ``parse_message`` -> ``CommandMapper.map`` ->
``EventSlots`` -> ``render_with_events`` -> the engine. Another thread's MIDI
(rtmidi, the demo player) arrives through the host's ``EventQueue``, pushed
between blocks. The engines are built and warmed up as ``rtsynth play`` does.

- **Allocation**: after warm-up, 10,000 blocks under ``tracemalloc``; the
  memory still held by blocks allocated in ``rtsynth/`` source lines must
  not grow between a snapshot before and one after (transient objects, freed
  within a block, do not count: they cost nothing over a set).
- **Blocking**: the blocks run under ``sys.setprofile``, which sees every
  Python and C function called; none may be a lock acquire, a sleep or wait,
  I/O, an import, logging, or a garbage collection.
- **GC**: inside :func:`rtsynth.host.runtime.realtime_python` (what a live
  session runs in) no collection starts during a callback, even with the
  test making cyclic garbage between blocks; the monitor loop collects the
  young generation from the main thread instead.
"""

import gc
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import rtsynth
from rtsynth.control import CommandMapper, EventQueue, instrument_mapping
from rtsynth.engine import AudioInput, CanneSynth, Chain
from rtsynth.host.effect_render import build_effect
from rtsynth.host.jack_backend import JackHost
from rtsynth.host.monitor import Monitor
from rtsynth.host.runtime import realtime_python, warm_up
from rtsynth.model import load_bundle
from synth_bundles import make_synth_bundle

RATE, PERIOD = 48000, 256
BLOCKS = 10_000
CYCLE = 50  # the storm repeats every CYCLE blocks; snapshots are taken at the same phase
RTSYNTH = str(Path(rtsynth.__file__).parent)
MODELS = Path(__file__).resolve().parents[2] / "models"


# ------------------------------------------------------------------ stand-ins
class _Port:
    def __init__(self, n):
        self.buf = np.zeros(n, np.float32)

    def get_array(self):
        return self.buf


class _MidiPort:
    """``incoming_midi_events`` yields the current block's ``(offset, bytes)`` events."""

    def __init__(self):
        self.events = ()

    def incoming_midi_events(self):
        return iter(self.events)


class _Ports:
    def __init__(self, make):
        self.make = make

    def register(self, name):
        return self.make()


class _Client:
    """What JackHost needs of ``jack.Client``, without a server."""

    name, samplerate, blocksize = "fake", RATE, PERIOD
    frames_since_cycle_start = 3  # read by the callback's first line

    def __init__(self):
        self.inports = self.outports = _Ports(lambda: _Port(PERIOD))
        self.midi_inports = _Ports(_MidiPort)

    def __getattr__(self, name):  # set_*_callback: nothing to register
        if name.startswith("set_"):
            return lambda *a, **k: None
        raise AttributeError(name)


# ------------------------------------------------------------------ the storm
def _storm(rng, cc_lo, cc_hi):
    """CYCLE blocks of raw MIDI: notes on all channels, CCs, bend, pressure, programs,
    sysex and multi-message (running-status) events the parser must drop."""
    blocks = []
    held = []
    for b in range(CYCLE):
        ev = []
        for _ in range(int(rng.integers(2, 7))):
            ch = int(rng.integers(16))
            kind = int(rng.integers(9))
            if kind <= 1:
                note = int(rng.integers(36, 96))
                ev.append(bytes([0x90 | ch, note, int(rng.integers(1, 128))]))
                held.append((ch, note))
            elif kind == 2 and held:
                ch, note = held.pop(0)
                ev.append(bytes([0x80 | ch, note, 64]))
            elif kind == 3:
                ev.append(bytes([0xB0 | ch, int(rng.integers(cc_lo, cc_hi)),
                                 int(rng.integers(128))]))
            elif kind == 4:
                ev.append(bytes([0xE0 | ch, int(rng.integers(128)), int(rng.integers(128))]))
            elif kind == 5:
                ev.append(bytes([0xA0 | ch, int(rng.integers(128)), int(rng.integers(128))]))
                ev.append(bytes([0xD0 | ch, int(rng.integers(128))]))
            elif kind == 6:
                ev.append(bytes([0xC0 | ch, int(rng.integers(128))]))
            elif kind == 7:
                ev.append(bytes([0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7]))
            else:
                ev.append(bytes([0x90 | ch, 60, 90, 64, 90]))  # running status in one event
        offsets = np.sort(rng.integers(0, PERIOD, len(ev)))
        blocks.append(tuple((int(o), e) for o, e in zip(offsets, ev)))
    # the last block of the cycle releases everything (CC 123 on every channel) and
    # brings sustain up, so each cycle ends in the same state
    blocks[-1] = tuple((0, bytes([0xB0 | ch, c, 0])) for ch in range(16) for c in (64, 123))
    return blocks


def _host(instrument, tmp):
    if instrument == "canne":
        # a small harmonic decoder (n_fft 1024): the same code path as models/canne at a
        # quarter of the FFT work, so 10,000 traced blocks take seconds, not a minute
        bundle = make_synth_bundle(tmp / "synth", n_fft=1024, hop=256, sample_rate=44100)
        engine = CanneSynth(load_bundle(bundle), sample_rate=RATE, polyphony=8, hop=256,
                            max_block=PERIOD)
        cc = (0, 128)
    else:
        effect = build_effect(load_bundle(MODELS / "anne"), sample_rate=RATE, block=PERIOD)
        engine = Chain(AudioInput(RATE, 8192), effect)
        cc = (29, 36)  # knobs a-e, dry/wet (bypass, CC 35, would make the wet path idle)
    warm_up(engine, PERIOD)
    host = JackHost(engine, _Client(), mapper=_mapper(instrument), queue=EventQueue(4096))
    return host, _storm(np.random.default_rng(7), *cc)


def _mapper(instrument):
    """The instrument's default mapper, as ``rtsynth play`` builds it."""
    return CommandMapper(instrument_mapping(instrument))


_NOISE = np.random.default_rng(1).uniform(-0.5, 0.5, (CYCLE, PERIOD)).astype(np.float32)


def _run(host, storm, n):
    """``n`` callbacks; audio into ``in_1`` when the engine takes input; a knob thrown
    from one end to the other from the queue (another thread's MIDI) every 8 blocks."""
    noise = _NOISE
    midi, queue = host.midi, host.queue
    worst = 0.0
    for i in range(n):
        midi.events = storm[i % CYCLE]
        if host.in_1 is not None:
            host.in_1.buf[:] = noise[i % CYCLE]
        if i % 8 == 0:  # a knob thrown end to end: CANNe's latents jump
            queue.push(0, 0xB0, 22 if host.in_1 is None else 30, 127 * (i // 8 % 2))
        host._process(PERIOD)
        worst = max(worst, float(np.max(np.abs(host.out_1.buf))))
    assert host.error is None, host.error
    assert np.all(np.isfinite(host.out_1.buf)) and worst <= 1.0
    return worst


@pytest.fixture(scope="module", params=["canne", "anne"])
def warmed(request, tmp_path_factory):
    host, storm = _host(request.param, tmp_path_factory.mktemp("bundle"))
    _run(host, storm, 4 * CYCLE)  # the path itself: caches, first voice steals, ramps
    return request.param, host, storm


#: Python modules whose functions block, do I/O, log or import; C functions that do
_BLOCKING_MODULES = {"threading", "queue", "logging", "subprocess", "socket", "selectors",
                     "importlib", "warnings", "asyncio", "concurrent"}
_BLOCKING_CALLS = {"acquire", "acquire_lock", "wait", "sleep", "join", "print", "open", "write",
                   "flush", "read", "readline", "__import__", "import_module", "collect",
                   "select", "poll", "recv", "send", "sendall", "allocate_lock", "getLogger"}


# ------------------------------------------------------------------ tests
def test_no_net_allocation_over_10000_blocks(warmed):
    instrument, host, storm = warmed
    gc.collect()
    tracemalloc.start(1)
    try:
        _run(host, storm, 2 * CYCLE)  # objects the path keeps (slots, keys) now traced
        gc.collect()
        before = tracemalloc.take_snapshot()
        worst = _run(host, storm, BLOCKS)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert BLOCKS % CYCLE == 0
    only = [tracemalloc.Filter(True, RTSYNTH + "/*")]
    diff = after.filter_traces(only).compare_to(before.filter_traces(only), "lineno")
    grown = [str(d) for d in diff if d.size_diff > 0][:10]
    # what may differ is bounded state, not growth: which of the 16 voice slots hold a
    # spectrum key, a counter crossing 256 (ints above are boxed). A leak of one object
    # every 1,000 blocks would show 10 more objects on its line; one per block, 10,000
    assert sum(d.size_diff for d in diff) <= 1024, (instrument, grown)
    assert max((d.count_diff for d in diff), default=0) <= 8, (instrument, grown)
    assert worst > 0.0  # it did play
    assert host.events.dropped == 0 and host.queue.dropped == 0
    if instrument == "canne":  # the storm's latent CCs jumped the spectrum: that path too
        assert host.engine.jumps > 0


def test_callback_takes_no_lock_sleeps_or_does_io(warmed):
    instrument, host, storm = warmed
    seen = set()

    def profile(frame, event, arg):
        if event == "c_call":  # C functions: module.name or type.name
            owner = getattr(arg, "__self__", None)
            kind = getattr(owner, "__name__", None) if isinstance(owner, type(sys)) else None
            seen.add(f"{kind or type(owner).__name__}.{arg.__name__}")
        elif event == "call":
            seen.add(f"py:{frame.f_globals.get('__name__')}:{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        _run(host, storm, 2 * CYCLE)
    finally:
        sys.setprofile(None)
    # every function called, the test's loop and stand-ins included (they add none of these)
    forbidden = [s for s in seen if (s.startswith("py:") and s.split(":")[1].split(".")[0]
                                     in _BLOCKING_MODULES)
                 or (not s.startswith("py:") and s.split(".")[-1] in _BLOCKING_CALLS)]
    assert not forbidden, (instrument, sorted(forbidden))
    assert "py:rtsynth.engine.schedule:render_with_events" in seen, sorted(seen)


def test_no_collection_inside_the_callback_while_live(warmed):
    instrument, host, storm = warmed
    state = {"inside": False, "during": 0, "outside": 0}

    def on_gc(phase, info):
        if phase == "start":
            state["during" if state["inside"] else "outside"] += 1

    def process(frames):  # the callback, marked, with garbage made right before it
        state["inside"] = True
        host._process(frames)
        state["inside"] = False

    def blocks(n):
        for i in range(n):
            junk = [[] for _ in range(50)]
            for a, b in zip(junk, junk[1:]):
                a.append(b)
                b.append(a)  # cycles: only the collector frees them
            host.midi.events = storm[i % CYCLE]
            process(PERIOD)

    threshold = gc.get_threshold()
    gc.set_threshold(1)  # any container the callback allocates may start a collection
    gc.callbacks.append(on_gc)
    try:
        blocks(100)  # control: the collector does start during callbacks normally
        control = state["during"]
        with realtime_python():  # (one full collection on entry, before the stream)
            assert not gc.isenabled()
            gc.freeze()  # as run_live does once the stream runs
            state["during"] = state["outside"] = 0
            monitor = Monitor(host, [], poll=0.0, gc_interval=0.0)
            for _ in range(20):
                blocks(20)
                monitor.tick(float("inf"))  # the main thread's young-generation pass
            during, outside = state["during"], state["outside"]
        assert gc.isenabled()
    finally:
        gc.callbacks.remove(on_gc)
        gc.set_threshold(*threshold)
    assert control > 0, "the test made too little garbage to trigger the collector"
    assert during == 0, state
    assert outside == monitor.collections == 20, state


def test_callback_runs_on_another_thread_without_python_threads_blocking_it(warmed):
    # the live callback runs on JACK's thread: the same path from a second thread
    # while this one is busy must still complete every block
    instrument, host, storm = warmed
    done = threading.Event()
    t = threading.Thread(target=lambda: (_run(host, storm, CYCLE), done.set()), daemon=True)
    with realtime_python():
        t.start()
        while not done.is_set():
            sum(range(10_000))  # a busy main thread (switch interval 0.5 ms)
        t.join(10)
    assert done.is_set()


_NO_COMPILE_SCRIPT = r"""
import sys
import numpy as np
from numba.core.registry import CPUDispatcher
import rtsynth.dsp, rtsynth.engine
from rtsynth.engine import CanneSynth
from rtsynth.engine.canne import MODES
from rtsynth.host.runtime import warm_up
from rtsynth.model import load_bundle


def kernels():
    found = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("rtsynth."):
            for attr, obj in vars(mod).items():
                if isinstance(obj, CPUDispatcher):
                    found[f"{obj.py_func.__module__}.{obj.py_func.__qualname__}"] = obj
    return found


out = np.zeros(256, np.float32)
rng = np.random.default_rng(0)
if sys.argv[2] == "anne":  # the effect: knobs thrown and swept over live input
    from rtsynth.engine import AudioInput, Chain
    from rtsynth.host.effect_render import build_effect
    chain = Chain(AudioInput(48000, 8192),
                  build_effect(load_bundle(sys.argv[1]), sample_rate=48000, block=256))
    warm_up(chain, 256)
    before = {k: len(d.signatures) for k, d in kernels().items()}
    for i in range(400):
        if i % 3 == 0:
            chain.apply(("knob", int(rng.integers(0, 5)), float(rng.uniform())))
        if i % 50 == 0:
            chain.apply(("wet", float(rng.uniform())))
        chain.feed(rng.uniform(-0.5, 0.5, 256).astype(np.float32))
        chain.process(out)
    loaded = sorted(k for k, d in kernels().items() if len(d.signatures) > before.get(k, 0))
    print(len(loaded), *loaded)
    sys.exit()
synth = CanneSynth(load_bundle(sys.argv[1]), sample_rate=48000, polyphony=8)
warm_up(synth, 256)
before = {k: len(d.signatures) for k, d in kernels().items()}
for note in range(36, 84, 6):
    synth.note_on(note, 100)
for mode in range(len(MODES)):
    synth.apply(("mode", mode))
    for _ in range(60):  # latents all over their space: pitched and unpitched spectra
        for latent, v in enumerate(rng.uniform(0.0, 1.0, 8)):
            synth.apply(("latent", latent, float(v)))
        synth.apply(("pitch_bend", float(rng.uniform(-1, 1))))
        synth.process(out)
        synth.process(out)
loaded = sorted(k for k, d in kernels().items() if len(d.signatures) > before.get(k, 0))
print(len(loaded), *loaded)
"""


@pytest.mark.parametrize("model, kind", [("canne", "canne"), ("anne", "anne"),
                                         ("anne-48k", "anne")])
def test_nothing_compiles_in_a_block_after_warm_up(tmp_path, model, kind):
    """A numba kernel's first call loads its machine code (milliseconds): every kernel a
    block can reach, whatever the spectrum (an unpitched one takes the partial shifter),
    the live mode and the knobs (a jump redoes the frames sounding), is loaded by the
    warm-up. Fresh process, shipped models: every latent over its range in every mode;
    ANNe's knobs thrown and dry/wet moved, at a resampled and at the model's rate."""
    import subprocess
    root = Path(rtsynth.__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-c", _NO_COMPILE_SCRIPT, str(root / "models" / model),
                          kind], capture_output=True, text=True, timeout=300, cwd=root)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[0] == "0", res.stdout


def test_no_page_faults_when_every_voice_and_tail_first_plays(tmp_path):
    """After the warm-up, the first chord on every voice, and the steals that start
    every tail, touch no memory page for the first time (``np.zeros`` maps pages
    lazily; without :func:`~rtsynth.host.runtime.prefault` this test saw 155
    faults, and 32 voices of models/canne 1,760: a kernel trap and a zeroed page
    each)."""
    import resource

    bundle = load_bundle(make_synth_bundle(tmp_path / "synth", n_fft=1024, hop=256,
                                           sample_rate=44100))
    engine = CanneSynth(bundle, sample_rate=RATE, polyphony=16, hop=128, max_block=PERIOD)
    warm_up(engine, PERIOD)
    out = np.zeros(PERIOD, np.float32)
    for _ in range(4):  # the allocator's own first use, outside the measure
        engine.process(out)

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    before = faults()
    for k in range(3):  # 48 notes on 16 voices: every voice, then every tail, starts
        for i in range(16):
            engine.note_on(30 + 16 * k + i, 100)
        for b in range(24):
            engine.process(out)
            if b == 8:
                engine.set_latent_normalized(0, 0.3 * k)
    made = faults() - before
    assert engine.active_voices == 16
    assert made < 24, made
