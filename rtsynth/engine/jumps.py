"""Which changes of a spectral parameter are heard at once, and over what crossfade.

A latent or an ANNe knob changes frames, and a new frame's spectrum fades in
over the synthesis window as it is overlap-added (93 ms for CANNe). The
engines can redo the frames still sounding instead (``Voice.respectrum``,
``AnneEffect``'s redo), so the change is heard within a crossfade; that costs
about a note-on's prefill per voice, or a decoder call per frame redone. A
knob thrown, a preset recalled or a CC that jumps is worth it; a knob swept
on and on, or a MIDI storm, is not: redoing at every control tick would cost
a prefill per voice per tick, and a sweep reads smoother through the window.

So a change redoes frames only near the start of a motion: the first change
after ``rest`` samples without one starts a motion, and changes within
``burst`` samples of its start may redo. The first of a motion crossfades over
the click-free ramp; later ones over a hop, so that their crossfades join up
instead of stepping. And the work is rationed: each redo (a voice, or an
effect's frames) takes a token from a bucket of ``capacity`` that refills in
``refill`` samples, so a stream of jumps (a MIDI storm throwing knobs) costs on
average at most ``capacity`` redos per ``refill``; a change without the tokens
it needs fades in over the window (all of it: a chord is redone whole or not
at all, so its voices never disagree).
Decisions depend only on the stream's clock, so renders stay identical at
any block size.
"""

from .smoothing import RAMP_SAMPLES

__all__ = ["JumpGate"]


class JumpGate:
    """The motion state of one engine's spectral parameters.

    Parameters
    ----------
    hop : int
        Samples between two changes the engine applies (its control tick).
    rest : float
        Hops without a change that end a motion.
    burst : float
        Hops from a motion's start within which a change may redo frames.
    capacity : int
        Redos the bucket holds (an instrument's voices: one jump redoes them all).
    refill : int
        Samples in which an empty bucket fills up again.
    """

    def __init__(self, hop, rest=2, burst=8, capacity=1, refill=48000):
        self.hop = int(hop)
        self.rest, self.burst = int(rest * self.hop), int(burst * self.hop)
        self.capacity, self.refill = int(capacity), int(refill)
        self.reset()

    def reset(self):
        """At rest (the stream starts again), the bucket full."""
        self._start = self._last = -(1 << 40)
        self._tokens = float(self.capacity)
        self._filled = 0  # the sample the bucket was last topped up at

    def ramp(self, clock):
        """A change applies at sample ``clock``: the crossfade (samples) to redo the
        frames with, or 0 if this one should fade in over the window instead."""
        first = clock - self._last > self.rest
        if first:
            self._start = clock
        self._last = clock
        if clock - self._start >= self.burst:
            return 0
        return RAMP_SAMPLES if first else self.hop

    def take(self, clock, n=1):
        """``n`` redos at sample ``clock``: True if the bucket had the tokens (then taken)."""
        self._tokens = min(float(self.capacity),
                           self._tokens + (clock - self._filled) * self.capacity / self.refill)
        self._filled = clock
        if self._tokens < n:
            return False
        self._tokens -= n
        return True
