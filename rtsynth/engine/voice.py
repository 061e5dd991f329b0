"""One synthesizer voice: its magnitude frame -> RTPGHI -> overlap-add -> ADSR."""

import numpy as np
from numba import njit

from ..dsp import OverlapAdd, RTPGHI
from ..dsp.buffers import move_to_front
from ..errors import InputError
from .envelope import ADSR

__all__ = ["Voice"]


class Voice:
    """A voice's phase, overlap-add and envelope state; the engine owns its magnitude.

    The voice's audio stream starts at the sample of its note-on: ``start``
    prefills the overlap-add with the steady frames the sound would already
    have had, so the first sample is at full spectrum and only the envelope
    shapes the onset. After that a frame is made whenever output needs one
    (:meth:`frames_due`), from whatever ``mag`` holds at that moment.

    Parameters
    ----------
    n_fft, hop : int
        Synthesis frame and hop (samples at the output rate).
    sample_rate : float
    max_block : int
        Largest number of samples one :meth:`render` call asks for.
    adsr : tuple of 4 float
    lead : int
        Samples (0 <= lead < hop) by which each frame is made before the output
        needs it. Voices with different leads make their frames in different
        blocks even when their notes started together, so a chord's frame work is
        spread over the hop instead of landing in one block (the p99 of the DSP
        load). A frame then reflects the controls ``lead`` samples earlier; as it
        depends only on sample times, not on block boundaries, renders stay
        block-size independent.
    scratch : optional
        :meth:`RTPGHI.new_scratch` shared by the engine's voices (they are
        phased one after the other), so it stays in cache.
    """

    def __init__(self, n_fft, hop, sample_rate, max_block, adsr=(0.005, 0.1, 0.8, 0.3), lead=0,
                 scratch=None):
        self.n_fft, self.hop = n_fft, hop
        if not 0 <= int(lead) < hop:
            raise InputError(f"lead={lead}: expected 0 <= lead < hop={hop}")
        self.lead = int(lead)
        n_bins = n_fft // 2 + 1
        self.phaser = RTPGHI(n_fft, hop, on_nonfinite="zero", scratch=scratch)
        self.ola = OverlapAdd(n_fft, hop)
        self.env = ADSR(sample_rate, *adsr)
        self.mag = np.zeros(n_bins)
        self.mag_key = None  # what `mag` was made from (the engine's cache key)
        self._spec = np.zeros(n_bins, np.complex128)
        self._prefill = np.zeros((-(-n_fft // hop), n_bins), np.complex128)
        self._prefill_time = np.zeros((self._prefill.shape[0], n_fft))
        self._fifo = np.zeros(max_block + 3 * hop)
        self._env = np.zeros(max_block)
        self._read = self._fill = 0
        self.note = -1
        self.gain = 0.0
        self.age = 0  # note-on order, for stealing the oldest
        self.held = False  # key down (or sustained by the pedal)
        self.sustained = False

    @property
    def active(self):
        return self.env.active

    def start(self, note, gain, age):
        """Begin a note: ``mag`` must already hold its spectrum."""
        self.note, self.gain, self.age = note, gain, age
        self.held, self.sustained = True, False
        self.phaser.prefill(self.mag, out=self._prefill)
        self.ola.reset()
        self.ola.prime(self._prefill, self._prefill_time)  # their samples precede the note
        self._read = self._fill = 0
        self.env.reset()
        self.env.note_on()

    def release(self, fast=False):
        self.held = self.sustained = False
        self.env.note_off(fast)

    def kill(self):
        """Silence now (all sound off)."""
        self.env.reset()
        self.held = self.sustained = False
        self.note = -1

    def frames_due(self, n):
        """Frames to make before the next ``n`` samples can be emitted (0, 1 or 2).

        The engine then calls :meth:`phase_frame` and, after one inverse FFT
        for all voices' frames, :meth:`add_frame` that many times, and
        :meth:`emit`.
        """
        need = n + self.lead
        if self._fill - self._read >= need:
            return 0
        self._fill = move_to_front(self._fifo, self._read, self._fill)
        self._read = 0
        return -(-(need - self._fill) // self.hop)

    def phase_frame(self, out):
        """Phase ``mag`` (the next frame's magnitude) into the complex frame ``out``."""
        self.phaser.process(self.mag, out=out)

    def add_frame(self, frame):
        """Overlap-add the next frame, already inverse-transformed (``n_fft`` samples)."""
        self.ola.add_time_frame(frame, self._fifo[self._fill:self._fill + self.hop])
        self._fill += self.hop

    def emit(self, out):
        """Add the next ``len(out)`` samples, enveloped, into ``out``."""
        n = out.shape[0]
        env = self.env.render(self._env[:n])
        _mix(out, self._fifo[self._read:self._read + n], env, self.gain)
        self._read += n
        if not self.env.active:
            self.note = -1


@njit(cache=True, nogil=True)
def _mix(out, x, env, gain):
    for i in range(out.shape[0]):
        out[i] += x[i] * env[i] * gain

