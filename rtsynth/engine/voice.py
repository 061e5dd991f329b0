"""One synthesizer voice: its magnitude frame -> RTPGHI -> overlap-add -> ADSR."""

import numpy as np

from ..dsp import OverlapAdd, RTPGHI
from ..errors import InputError
from .bank import VoiceBank
from .envelope import ADSR

__all__ = ["Voice", "fifo_length"]


class Voice:
    """A voice's phase, overlap-add and envelope state; the engine owns its magnitude.

    The voice's audio stream starts at the sample of its note-on: ``start``
    prefills the overlap-add with the steady frames the sound would already
    have had, so the first sample is at full spectrum and only the envelope
    shapes the onset. After that a frame is made whenever output needs one
    (:func:`rtsynth.engine.bank.plan` says when), from whatever ``mag`` holds
    at that moment; :func:`rtsynth.engine.bank.emit` envelopes and mixes it.

    Parameters
    ----------
    n_fft, hop : int
        Synthesis frame and hop (samples at the output rate).
    sample_rate : float
    max_block : int
        Largest number of samples one render step asks for.
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
    bank : VoiceBank, optional
        Where this voice's output FIFO, positions, envelope and gain live (row
        ``slot``), so the engine's kernels step all voices at once (see
        :mod:`rtsynth.engine.bank`); default a bank of its own.
    slot : int
        This voice's row of ``bank``.
    """

    def __init__(self, n_fft, hop, sample_rate, max_block, adsr=(0.005, 0.1, 0.8, 0.3), lead=0,
                 scratch=None, bank=None, slot=0):
        self.n_fft, self.hop = n_fft, hop
        if not 0 <= int(lead) < hop:
            raise InputError(f"lead={lead}: expected 0 <= lead < hop={hop}")
        self.lead = int(lead)
        if bank is None:
            bank, slot = VoiceBank(1, fifo_length(hop, max_block)), 0
        if bank.fifo.shape[1] < fifo_length(hop, max_block):
            raise InputError(f"bank fifo of {bank.fifo.shape[1]} samples: expected at least "
                             f"{fifo_length(hop, max_block)} for hop={hop}, "
                             f"max_block={max_block}")
        self.bank, self.slot = bank, int(slot)
        bank.lead[slot] = self.lead
        n_bins = n_fft // 2 + 1
        self.phaser = RTPGHI(n_fft, hop, on_nonfinite="zero", scratch=scratch)
        self.ola = OverlapAdd(n_fft, hop)
        self.env = ADSR(sample_rate, *adsr, state=bank.env_state[slot],
                        params=bank.env_params[slot])
        self.mag = np.zeros(n_bins)
        self.mag_key = None  # what `mag` was made from (the engine's cache key)
        n_prefill = -(-n_fft // hop)
        self._prefill = np.zeros((n_prefill, n_bins), np.complex128)
        self._prefill_time = np.zeros((n_prefill, n_fft))
        #: frames `respectrum` redoes: a window's worth and two more, so that they reach
        #: back over the FIFO's unplayed samples too (OverlapAdd.rebuild)
        self.respectrum_frames = n_prefill + 2
        self._fifo = bank.fifo[slot]
        self._pos = bank.pos[slot]  # read, fill
        self.note = -1
        self.gain = 0.0
        self.age = 0  # note-on order, for stealing the oldest
        self.held = False  # key down (or sustained by the pedal)
        self.sustained = False
        self.jump_seen = 0  # the engine's latent jumps this voice's spectrum has followed

    @property
    def active(self):
        return self.env.active

    @property
    def gain(self):
        """Velocity gain (linear)."""
        return float(self.bank.gain[self.slot])

    @gain.setter
    def gain(self, value):
        self.bank.gain[self.slot] = value

    def start(self, note, gain, age):
        """Begin a note: ``mag`` must already hold its spectrum."""
        self.note, self.gain, self.age = note, gain, age
        self.held, self.sustained = True, False
        self.phaser.prefill(self.mag, out=self._prefill)
        self.ola.reset()
        self.ola.prime(self._prefill, self._prefill_time)  # their samples precede the note
        self._pos[:] = 0
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

    def phase_frame(self, out):
        """Phase ``mag`` (the next frame's magnitude) into the complex frame ``out``."""
        self.phaser.process(self.mag, out=out)

    def respectrum(self, spectra, times, ramp):
        """Move the sound to ``mag`` now, crossfading over ``ramp`` samples.

        The frames still overlapping the unplayed output are made again as a
        steady run of ``mag`` whose last frame keeps the phases of the last one
        played (:meth:`~rtsynth.dsp.RTPGHI.prefill` with ``keep_phase``), and
        overlap-added in place of the old ones
        (:meth:`~rtsynth.dsp.OverlapAdd.rebuild`): what a note-on's prefill
        does for a new note, done for a sounding one, with its partials in phase.

        Parameters
        ----------
        spectra : ndarray, shape (respectrum_frames, n_bins), complex128
        times : ndarray, shape (respectrum_frames, n_fft), float64
            Working memory (the engine's, shared by its voices).
        ramp : int
            Crossfade length in samples.
        """
        self.phaser.prefill(self.mag, out=spectra, keep_phase=True)
        np.fft.irfft(spectra, n=self.n_fft, axis=1, out=times)
        self.ola.rebuild(times, self._fifo[self._pos[0]:self._pos[1]], ramp)

    def add_frame(self, frame):
        """Overlap-add the next frame, already inverse-transformed (``n_fft`` samples),
        after the samples the voice's FIFO holds (:func:`~rtsynth.engine.bank.plan`
        counted the frames due and made room)."""
        fill = self._pos[1]
        self.ola.add_time_frame(frame, self._fifo[fill:fill + self.hop])
        self._pos[1] = fill + self.hop


def fifo_length(hop, max_block):
    """Samples a voice's output FIFO needs: a block, its lead and two frames' worth."""
    return max_block + 3 * hop
