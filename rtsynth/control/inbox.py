"""A bounded, non-blocking single-producer/single-consumer queue of command tuples.

For control sources that speak parameters rather than MIDI bytes (OSC, a live
view, preset recall from a UI): the producer thread pushes command tuples, the
audio callback drains them at the start of a block. Same rules and the same
lock-free argument as :class:`rtsynth.control.events.EventQueue` (two
counters, each written by one thread; a slot is filled before the head that
publishes it, and freed only after the tail moves past it): a full queue
refuses (``push`` returns False, ``dropped`` counts), nothing blocks, the
slots are a preallocated list. One producer per queue: give each thread its own.
"""

from rtsynth.errors import InputError

__all__ = ["CommandQueue"]


class CommandQueue:
    """Bounded SPSC ring of command tuples.

    Parameters
    ----------
    capacity : int
        Slots (>= 1).
    """

    __slots__ = ("capacity", "_slots", "_head", "_tail", "dropped")

    def __init__(self, capacity=256):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise InputError(f"expected capacity to be an integer >= 1, found capacity={capacity!r}.")
        self.capacity = capacity
        self._slots = [None] * capacity
        self._head = 0  # pushed so far (producer-owned)
        self._tail = 0  # drained so far (consumer-owned)
        self.dropped = 0

    def __len__(self):
        return self._head - self._tail

    def push(self, command) -> bool:
        """Producer: queue ``command``; False (counted in ``dropped``) when full."""
        head = self._head
        if head - self._tail >= self.capacity:
            self.dropped += 1
            return False
        self._slots[head % self.capacity] = command
        self._head = head + 1  # publish last
        return True

    def drain(self, handler, limit=None) -> int:
        """Consumer: call ``handler(command)`` for each queued command, oldest first.

        At most ``limit`` (default: what is queued now). Returns how many.
        """
        tail = self._tail
        n = self._head - tail
        if limit is not None and limit < n:
            n = limit
        slots, cap = self._slots, self.capacity
        done = 0
        try:
            while done < n:
                i = (tail + done) % cap
                handler(slots[i])
                slots[i] = None  # release the command object (a failing one stays queued)
                done += 1
        finally:
            self._tail = tail + done  # free the slots last
        return done
