"""A bounded, lock-free single-producer/single-consumer queue of MIDI events.

The MIDI thread (or a JACK MIDI port reader) is the one producer; the audio
callback is the one consumer, draining the queue at the start of each block
(design.md, "Real-time rules"). Nothing here blocks, waits or grows: a full
queue refuses the event (``push`` returns False and ``dropped`` counts it),
an empty one yields nothing and the engine keeps playing.

Why this is safe without a lock (CPython with the GIL)
-------------------------------------------------------
The state is four preallocated numpy arrays (the slots) and two ever-growing
Python int counters: ``_head`` (events written, owned by the producer) and
``_tail`` (events read, owned by the consumer). Each counter is *written* by
exactly one thread and only *read* by the other; a counter store is a single
``STORE_ATTR`` bytecode, which the GIL makes atomic, and the interpreter does
not reorder one thread's bytecodes. So:

* the producer fills slot ``head % capacity`` first and publishes it by
  storing ``head + 1`` last: the consumer can never see a counter that covers
  a slot whose fields are not all written;
* the consumer copies slots out first and frees them by storing the new
  ``tail`` last: the producer can never overwrite a slot that is still being
  read, because it only writes while ``head - tail < capacity``;
* a stale read of the other thread's counter is always conservative (the
  producer may see the queue fuller than it is, the consumer emptier), never
  wrong.

The counters never wrap (Python ints are unbounded), so full and empty are
told apart without a spare slot. This relies on the GIL: under a
free-threaded build (PEP 703) the publication order would need real memory
barriers. "No allocation" means no array or container is created or grown;
CPython may still box a counter value above 256 as a short-lived int object,
which its small-object allocator serves without a system call.
"""

import numpy as np

from rtsynth.errors import InputError

__all__ = ["EventQueue", "DEFAULT_CAPACITY"]

DEFAULT_CAPACITY = 1024


class EventQueue:
    """Bounded non-blocking SPSC ring of MIDI events ``(offset, status, data1, data2)``.

    Parameters
    ----------
    capacity : int
        Number of slots (>= 1). A 256-frame block at 48 kHz rarely sees more
        than a few dozen events, so the default 1024 absorbs long bursts.

    ``offset`` is an int64 time stamp chosen by the producer (a sample offset
    inside the coming block, or an absolute frame time); ``status``/``data1``/
    ``data2`` are the raw MIDI bytes (``data2`` is 0 for one-data messages).

    Thread roles: :meth:`push` from the producer thread only; :meth:`drain`,
    :meth:`pop_into` and :meth:`clear` from the consumer thread only.
    ``len(q)`` and the counters may be read from anywhere (they are
    snapshots).

    Attributes
    ----------
    dropped : int
        Events refused because the queue was full (written by the producer).
        A dropped note-off can leave a note hanging; a host that sees this
        grow may send ``all_notes_off``.
    """

    __slots__ = ("capacity", "offset", "status", "data1", "data2", "_head", "_tail", "dropped")

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise InputError(f"expected capacity to be an integer >= 1, found capacity={capacity!r}.")
        self.capacity = int(capacity)
        self.offset = np.zeros(self.capacity, dtype=np.int64)
        self.status = np.zeros(self.capacity, dtype=np.uint8)
        self.data1 = np.zeros(self.capacity, dtype=np.uint8)
        self.data2 = np.zeros(self.capacity, dtype=np.uint8)
        self._head = 0  # events ever pushed (producer-owned)
        self._tail = 0  # events ever consumed (consumer-owned)
        self.dropped = 0  # producer-owned

    # ---------------------------------------------------------------- producer
    def push(self, offset, status, data1=0, data2=0) -> bool:
        """Append one event; return False (and count it in ``dropped``) when full.

        Values are stored as given, cast to the slot dtypes (the caller passes
        real MIDI bytes 0..255; a parser from :mod:`rtsynth.control.midi` only
        emits well-formed ones). Never blocks, never allocates an array.
        """
        head = self._head
        if head - self._tail >= self.capacity:
            self.dropped += 1
            return False
        i = head % self.capacity
        self.offset[i] = offset
        self.status[i] = status
        self.data1[i] = data1
        self.data2[i] = data2
        self._head = head + 1  # publish last
        return True

    # ---------------------------------------------------------------- consumer
    def drain(self, handler, limit=None) -> int:
        """Call ``handler(offset, status, data1, data2)`` (Python ints) for each queued event, oldest first.

        At most ``limit`` events are taken (all that are queued when called,
        if None); events pushed meanwhile wait for the next call, so a flood
        cannot keep the callback here. Returns the number handled. If the
        handler raises, the events handled so far stay consumed and the
        failing one is left at the front of the queue.
        """
        tail = self._tail
        n = self._head - tail
        if limit is not None and limit < n:
            n = limit
        cap = self.capacity
        off, st, d1, d2 = self.offset, self.status, self.data1, self.data2
        done = 0
        try:
            while done < n:
                i = (tail + done) % cap
                handler(int(off[i]), int(st[i]), int(d1[i]), int(d2[i]))
                done += 1
        finally:
            self._tail = tail + done  # free the slots last
        return done

    def pop_into(self, offset, status, data1, data2) -> int:
        """Move up to ``min(len(...))`` queued events into caller-owned arrays; return how many.

        The four output arrays are preallocated by the caller (any numeric
        dtypes wide enough, e.g. from :meth:`new_buffers`); events land in
        ``[:n]`` oldest first. At most two slice copies per array, no
        Python-level loop.
        """
        tail = self._tail
        n = self._head - tail
        room = min(len(offset), len(status), len(data1), len(data2))
        if room < n:
            n = room
        if n <= 0:
            return 0
        cap = self.capacity
        start = tail % cap
        first = min(n, cap - start)
        offset[:first] = self.offset[start:start + first]
        status[:first] = self.status[start:start + first]
        data1[:first] = self.data1[start:start + first]
        data2[:first] = self.data2[start:start + first]
        rest = n - first
        if rest:
            offset[first:n] = self.offset[:rest]
            status[first:n] = self.status[:rest]
            data1[first:n] = self.data1[:rest]
            data2[first:n] = self.data2[:rest]
        self._tail = tail + n  # free the slots last
        return n

    def clear(self) -> int:
        """Discard every queued event (consumer thread only); return how many were discarded."""
        head = self._head
        n = head - self._tail
        self._tail = head
        return n

    def new_buffers(self, n=None):
        """Preallocate ``(offset, status, data1, data2)`` output arrays for :meth:`pop_into` (outside the callback)."""
        n = self.capacity if n is None else int(n)
        return (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.uint8),
                np.zeros(n, dtype=np.uint8), np.zeros(n, dtype=np.uint8))

    # ---------------------------------------------------------------- either side
    def __len__(self) -> int:
        return self._head - self._tail

    @property
    def pushed(self) -> int:
        """Events accepted since creation."""
        return self._head

    @property
    def popped(self) -> int:
        """Events consumed (or cleared) since creation."""
        return self._tail

    def __repr__(self) -> str:
        return (f"EventQueue(capacity={self.capacity}, queued={len(self)}, "
                f"dropped={self.dropped})")
