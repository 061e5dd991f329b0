"""The lock-free link between the audio callback and a live view (``rtsynth play --ui``).

What the view shows lives in one block of shared memory (a ``memfd`` the view's
process maps too), written by the audio callback as it plays, so the audio
process does no work per view frame at all: no snapshot, no JSON, no pipe
write beside the callback (stop 20; before, its main thread built a snapshot
10 times a second, about 80 us of Python holding the interpreter lock the
callback needs back after each numba or onnxruntime call). The view reads
the block on its own clock, in its own process.

Channels, all preallocated before the stream starts:

- **meters** (callback -> view): :attr:`UiLink.levels`, peak with a 20 dB/s
  fall and a smoothed mean square of the output and the input, written once
  a block by one numba call that allocates nothing;
- **DSP load** (callback -> view): :meth:`UiLink.post` copies the block's time
  from the host's :class:`~rtsynth.host.runtime.DspMeter` into a ring, with
  the block count, the xrun count and the voices in use;
- **parameter values** (callback -> view): the session's
  :class:`~rtsynth.control.Automation` keeps its value mirror in the block
  (:meth:`~rtsynth.control.Automation.mirror_into`), so every value the
  callback sets is the view's at once;
- **MIDI monitor** (callback -> view): every raw MIDI message the callback
  handles is pushed into :attr:`UiLink.monitor`, a ring of (status, data1,
  data2); the view drains it for its activity display and for MIDI learn. A
  view that falls more than the ring behind loses the oldest, never blocks
  the callback;
- **commands** (view -> callback): :attr:`UiLink.commands`, a bounded
  :class:`~rtsynth.control.inbox.CommandQueue` of the engine's command tuples
  (notes from the computer keyboard, parameter moves), filled by the audio
  process's main thread from the view's pipe and drained by the callback at
  the start of each block into the same event slots the MIDI input fills.

Why no lock: each field has one writer (the callback), and a counter is
written after what it covers (a ring slot before the count that publishes
it), so a reader sees a slot only once it is written; a meter may be one
block old, never torn in a way that matters for a display. A reader that
falls a whole ring behind skips to the newest ring's worth.
"""

import mmap
import os
import tempfile

import numpy as np
from numba import njit

from ..control.inbox import CommandQueue
from .runtime import ring_loads

__all__ = ["UiLink", "LinkReader", "MidiMonitor", "LEVELS", "PEAK_FALL_DB_PER_S", "RMS_TIME",
           "LOAD_RING", "MEDIAN_BLOCKS"]

#: layout of :attr:`UiLink.levels`
LEVELS = ("out_peak", "out_ms", "in_peak", "in_ms")
#: how fast a peak meter falls back (dB per second), as on a mixing desk
PEAK_FALL_DB_PER_S = 20.0
#: time constant of the mean-square meter (s)
RMS_TIME = 0.3
#: blocks of DSP load kept for the view (21.8 s at 48 kHz / 256; a power of two)
LOAD_RING = 4096
#: blocks the view's median load is taken over (about 10 s at 48 kHz / 256)
MEDIAN_BLOCKS = 2048

# slots of the header: blocks posted, xruns, voices in use, MIDI messages pushed
_BLOCKS, _XRUNS, _VOICES, _MIDI = range(4)


class UiLink:
    """What a live host shares with a view: meters, loads, values, a MIDI monitor, commands.

    Parameters
    ----------
    names : sequence of str
        The parameters whose values the view shows (an Automation's specs'
        names, in its order; see :meth:`share_values`).
    monitor_capacity, command_capacity : int

    Attributes
    ----------
    levels : ndarray, shape (4,)
        See :data:`LEVELS`; linear amplitude (peak) and power (mean square).
    values : ndarray, shape (len(names),)
        Parameter values, in parameter units.
    monitor : MidiMonitor
        Raw MIDI ``(status, data1, data2)`` seen by the callback.
    commands : rtsynth.control.inbox.CommandQueue
        Command tuples for the engine (the view's pipe is their one producer).
    fd : int
        The shared memory's file descriptor (for the view's process).
    """

    def __init__(self, names=(), monitor_capacity=1024, command_capacity=256):
        self.names = [str(n) for n in names]
        self._layout = _layout(len(self.names), int(monitor_capacity))
        self.fd = _shared_fd(self._layout["bytes"])
        self._map(mmap.mmap(self.fd, self._layout["bytes"]))
        self.commands = CommandQueue(command_capacity)
        self.configure(48000, 256)

    @classmethod
    def attach(cls, fd, layout):
        """The view's side: the link whose :meth:`layout` is ``layout``, mapped from ``fd``."""
        self = cls.__new__(cls)
        self.names, self._layout, self.fd = list(layout["names"]), dict(layout), int(fd)
        self._map(mmap.mmap(self.fd, self._layout["bytes"]))
        self.commands = None
        return self

    def layout(self):
        """What :meth:`attach` needs, as JSON-able values."""
        return {**self._layout, "names": self.names}

    def configure(self, rate, block):
        """Set the meter ballistics for ``rate`` and ``block`` and compile the meter
        kernel for the array layouts the hosts pass (before the stream starts)."""
        self._fall = 10.0 ** (-PEAK_FALL_DB_PER_S * block / rate / 20.0)
        self._alpha = float(1.0 - np.exp(-block / (RMS_TIME * rate)))
        scratch = np.zeros(len(LEVELS))
        for x in (np.zeros(8, np.float32), np.zeros((8, 2), np.float32)[:, 0],
                  np.zeros(8, np.float64)):
            _measure(x, scratch, 0, self._fall, self._alpha)

    def share_values(self, automation):
        """Make ``automation``'s value mirror this link's :attr:`values` (before the
        stream starts); its parameters must be :attr:`names`, in order."""
        names = [s.name for s in automation.specs]
        if names != self.names:
            raise ValueError(f"expected the automation's parameters {self.names}, found {names}")
        automation.mirror_into(self.values)

    # ------------------------------------------------- audio callback side
    def measure(self, out, inp=None):
        """Meter one block of output (and input); called once per block by the callback."""
        _measure(out, self.levels, 0, self._fall, self._alpha)
        if inp is not None:
            _measure(inp, self.levels, 2, self._fall, self._alpha)

    def post(self, meter, engine):
        """Publish ``meter``'s last block (its time and frames), its xrun count and the
        voices ``engine`` has in use; called once per block, after ``meter.record``."""
        count = meter.count
        if count:
            i, j = (count - 1) & meter.mask, (count - 1) & (LOAD_RING - 1)
            self._ns[j] = meter.ns[i]
            self._frames[j] = meter.frames[i]
        hdr = self._hdr
        hdr[_XRUNS] = meter.xruns
        hdr[_VOICES] = engine.active_voices if engine is not None else 0
        hdr[_BLOCKS] = count  # last: it publishes the slot above

    # ------------------------------------------------------------ view side
    def send(self, command):
        """Queue one engine command (audio process's main thread); False when full."""
        return self.commands.push(command)

    def _map(self, mm):
        self._mm = mm
        lay = self._layout

        def view(key, dtype, shape):
            return np.frombuffer(mm, dtype=dtype, count=int(np.prod(shape)),
                                 offset=lay[key]).reshape(shape)

        self._hdr = view("hdr", np.int64, (4,))
        self.levels = view("levels", np.float64, (len(LEVELS),))
        self._ns = view("ns", np.int64, (LOAD_RING,))
        self.values = view("values", np.float64, (lay["n_values"],))
        self._frames = view("frames", np.int32, (LOAD_RING,))
        self.monitor = MidiMonitor(view("midi", np.uint8, (3, lay["monitor"])), self._hdr)


class MidiMonitor:
    """The MIDI the callback handled, for the view: a shared ring of (status, data1, data2).

    :meth:`push` from the audio callback only; :meth:`drain` and :meth:`clear`
    from one reader.
    """

    def __init__(self, slots, hdr):
        self._status, self._d1, self._d2 = slots  # one row each: stores need no index tuple
        self._hdr = hdr
        self.capacity = slots.shape[1]
        self._head = int(hdr[_MIDI])  # the writer's count (kept as a Python int)
        # the reader's: from the first message, so a view that starts after the stream
        # (its imports took a while on a loaded machine) still shows what came before it
        self._tail = 0

    def push(self, offset, status, d1, d2):
        """Record one message (``offset`` is not kept); never blocks or refuses."""
        head = self._head
        i = head % self.capacity
        self._status[i] = status
        self._d1[i] = d1
        self._d2[i] = d2
        self._head = head + 1
        self._hdr[_MIDI] = head + 1  # after the slot: it publishes it

    def drain(self, fn, limit=None):
        """Call ``fn(status, data1, data2)`` for each message since the last drain (the
        newest ``capacity`` when more came); return how many."""
        head = int(self._hdr[_MIDI])
        tail = max(self._tail, head - self.capacity)
        if limit is not None:
            head = min(head, tail + int(limit))
        for k in range(tail, head):
            i = k % self.capacity
            fn(int(self._status[i]), int(self._d1[i]), int(self._d2[i]))
        self._tail = head
        return head - tail

    def clear(self):
        """Skip everything pushed so far (reader side)."""
        self._tail = int(self._hdr[_MIDI])

    def __len__(self):
        return int(self._hdr[_MIDI]) - self._tail


class LinkReader:
    """The view's reading of a link: one snapshot per view frame.

    Parameters
    ----------
    link : UiLink
        Usually :meth:`UiLink.attach`-ed in the view's process.
    rate : int
        The stream's sample rate (block times become % of their period).
    median_every : int
        Snapshots between recomputations of the median load.
    """

    def __init__(self, link, rate, median_every=10):
        self.link, self.rate, self.median_every = link, float(rate), int(median_every)
        self._seen = int(link._hdr[_BLOCKS])
        self._n, self._median = 0, 0.0

    def snapshot(self, say=()):
        """What the view draws (``ViewSession.apply``'s input): levels, the load of the
        newest block and the max since the last snapshot, the median over the last
        :data:`MEDIAN_BLOCKS`, xruns, voices, ``{name: value}``, new MIDI, ``say``."""
        link = self.link
        count = int(link._hdr[_BLOCKS])
        recent = self._loads(count, min(count - self._seen, LOAD_RING // 2))
        self._seen = count
        now, peak = (float(recent[-1]), float(recent.max())) if recent.size else (None, None)
        if self._n % self.median_every == 0:
            loads = self._loads(count, MEDIAN_BLOCKS)
            self._median = float(np.median(loads)) if loads.size else 0.0
        self._n += 1
        midi = []
        link.monitor.drain(lambda s, a, b: midi.append((s, a, b)), limit=256)
        return {"levels": link.levels.tolist(), "load_now": now, "load_max": peak,
                "load_median": self._median, "xruns": int(link._hdr[_XRUNS]),
                "voices": int(link._hdr[_VOICES]),
                "values": dict(zip(link.names, link.values.tolist())),
                "midi": midi, "say": list(say)}

    def _loads(self, count, last):
        return ring_loads(self.link._ns, self.link._frames, count, last, self.rate)


def _layout(n_values, monitor):
    """Byte offsets of the shared block's arrays (8-byte ones first: all aligned)."""
    lay, at = {"n_values": n_values, "monitor": monitor}, 0
    for key, size in (("hdr", 4 * 8), ("levels", len(LEVELS) * 8), ("ns", LOAD_RING * 8),
                      ("values", n_values * 8), ("frames", LOAD_RING * 4),
                      ("midi", monitor * 3)):
        lay[key] = at
        at += size
    lay["bytes"] = max(at, 1)
    return lay


def _shared_fd(size):
    """A descriptor of ``size`` zeroed bytes another process can map: a memfd, or an
    unlinked temporary file where there is none."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("rtsynth-view", 0)  # not inherited unless passed
    else:
        fd, path = tempfile.mkstemp(prefix="rtsynth-view-")
        os.unlink(path)
    os.ftruncate(fd, size)
    return fd


@njit(cache=True)
def _measure(x, levels, at, fall, alpha):
    # no nogil: for a microsecond's work, releasing the interpreter lock would only
    # let another thread take it from the audio callback before it gets it back.
    # One pass: the block's peak (held against the falling previous one) and mean square
    peak = 0.0
    ss = 0.0
    for i in range(x.shape[0]):
        v = float(x[i])
        ss += v * v
        if abs(v) > peak:
            peak = abs(v)
    held = levels[at] * fall
    levels[at] = peak if peak > held else held
    if x.shape[0] > 0:
        levels[at + 1] += alpha * (ss / x.shape[0] - levels[at + 1])
