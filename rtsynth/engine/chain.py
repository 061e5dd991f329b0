"""A source followed by an effect, as one engine: what the hosts and the renderer drive.

``Chain(synth, effect)`` is CANNe through ANNe (``play canne --fx``);
``Chain(AudioInput(rate), effect)`` is the effect on live or file input
(``play anne``, ``render anne``). Both present the one interface hosts know,
``process(out)`` / ``apply(command)`` / ``reset()`` / ``latency_samples``, so
the JACK and PortAudio hosts and :func:`~rtsynth.engine.schedule.render_with_events`
stay generic; a chain whose source is an :class:`AudioInput` also has
:meth:`Chain.feed`, which a duplex host calls with each input period.
"""

import numpy as np

from ..errors import InputError

__all__ = ["Chain", "AudioInput"]


class AudioInput:
    """The host's input signal as a source: :meth:`feed` a period, then :meth:`process` reads it.

    ``process`` hands the fed samples out in order, however the period is
    split (at event offsets); reading past what was fed gives silence.

    Parameters
    ----------
    sample_rate : int
    max_block : int
        Longest period :meth:`feed` receives.
    """

    latency_samples = 0

    def __init__(self, sample_rate, max_block=8192):
        self.sample_rate, self.max_block = int(sample_rate), int(max_block)
        self._buf = np.zeros(self.max_block)
        self._n = self._pos = 0

    def feed(self, block):
        """The next period of input (copied, so the host's buffer may be reused)."""
        n = block.shape[0]
        if n > self.max_block:
            raise InputError(f"block of {n} samples: expected at most max_block={self.max_block}")
        self._buf[:n] = block
        self._n, self._pos = n, 0

    def process(self, out):
        k = out.shape[0]
        got = max(0, min(k, self._n - self._pos))
        out[:got] = self._buf[self._pos:self._pos + got]
        out[got:] = 0.0
        self._pos += k
        return out

    def apply(self, command):
        return False

    def reset(self):
        self._n = self._pos = 0


class Chain:
    """``source`` then ``effect``, in place, in one ``process`` call.

    Parameters
    ----------
    source : object
        ``process(out)``, ``apply(command)``, ``reset()``, ``sample_rate``,
        ``max_block``, ``latency_samples`` (a CanneSynth or an AudioInput).
    effect : rtsynth.engine.AnneEffect
        Built for the source's sample rate.

    Attributes
    ----------
    latency_samples : int
        The source's plus the effect's.
    """

    def __init__(self, source, effect):
        if effect.sample_rate != source.sample_rate:
            raise InputError(f"effect sample_rate={effect.sample_rate}: expected the source's "
                             f"{source.sample_rate} Hz")
        self.source, self.effect = source, effect
        self.sample_rate = source.sample_rate
        self.max_block = min(source.max_block, effect.max_block)
        self.latency_samples = source.latency_samples + effect.latency_samples
        self.needs_input = hasattr(source, "feed")
        self.glide_lead = {**getattr(source, "glide_lead", {}),
                           **getattr(effect, "glide_lead", {})}

    def feed(self, block):
        """Hand the source one period of input (duplex hosts; see :class:`AudioInput`)."""
        self.source.feed(block)

    def process(self, out):
        """Render ``len(out)`` samples: the source into ``out``, then the effect in place."""
        self.source.process(out)
        self.effect.process(out, out=out)
        return out

    def apply(self, command):
        """Effect commands (knob, wet, bypass) to the effect, the rest to the source."""
        return self.effect.apply(command) or self.source.apply(command)

    def reset(self):
        self.source.reset()
        self.effect.reset()

    @property
    def active_voices(self):
        return getattr(self.source, "active_voices", 0)

    @property
    def nonfinite_count(self):
        return getattr(self.source, "nonfinite_count", 0) + self.effect.nonfinite_count
