"""rtsynth.engine: pure block processors (no devices, no files) built on dsp + model."""

from .anne import AnneEffect, knob_sizes
from .canne import MODES, CanneSynth
from .chain import AudioInput, Chain
from .envelope import ADSR
from .limiter import SafetyLimiter
from .rate import RateBridge
from .resample import StreamResampler
from .schedule import render_with_events

__all__ = ["AnneEffect", "knob_sizes", "CanneSynth", "MODES", "ADSR", "SafetyLimiter",
           "render_with_events", "Chain", "AudioInput", "RateBridge", "StreamResampler"]
