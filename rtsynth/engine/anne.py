"""ANNe: the autoencoder as a live effect, as a pure block processor.

Signal flow (thesis chapter 3, design.md): streaming STFT of the input -> each
frame divided by its max (remembered) -> encoder -> latent x knob gains (five
adjacent sub-vectors a-e, gains 0.5..5.5, smoothed per frame) -> decoder ->
times the remembered max -> the input's own phase -> overlap-add -> dry/wet
with the dry path delayed by the same latency -> safety limiter. At a sample
rate other than the model's, only the wet path is resampled (to the model's
rate and back, with an exact integer delay); the dry path, the mix and the
limiter run at the device rate.
"""

import math

import numpy as np
from numba import njit

from ..dsp import OverlapAdd, StftProcessor, frame_features
from ..dsp.buffers import move_to_front
from ..errors import InputError
from .jumps import JumpGate
from .knobs import GAIN_RANGE, KNOB_PRESETS, N_KNOBS, knob_sizes
from .limiter import SafetyLimiter, all_finite
from .rate import RateBridge
from .smoothing import RAMP_SAMPLES, one_pole_alpha, ramp_sample, smooth_step

__all__ = ["AnneEffect", "knob_sizes", "KNOB_PRESETS", "GAIN_RANGE"]

class AnneEffect:
    """The ANNe effect.

    Parameters
    ----------
    bundle : rtsynth.model.ModelBundle
        Any bundle with an encoder (an ANNe or a CANNe model).
    knobs : sequence of 5 float
        Gains a-e in [0.5, 5.5].
    preset : str
        Sub-vector sizes, see :func:`knob_sizes`; ``sizes`` for 'custom'.
    wet : float
        Dry/wet 0..1, linear: ``y = (1 - wet) * dry + wet * wet_signal``
        (the thesis' law without its whole-file normalisation, which a live
        effect cannot do). At knob gains of 1 the wet signal is the model's
        reconstruction of the input, so the level stays steady across the
        range; ``wet=0`` is the input, delayed, exactly.
    sample_rate : int, optional
        Rate of the audio given to :meth:`process` (default: the model's).
        At another rate the wet path is resampled to the model's rate and
        back (:class:`~rtsynth.engine.rate.RateBridge`); the dry path and the
        mix stay at this rate, so ``wet=0`` is still the exact input.
    smoothing : float
        Extra one-pole time constant (s) on knob gain changes, per frame.
        Default 0: a change is heard from its own sample: the frames still in
        the overlap-add are decoded again with the new gains and the output
        crossfades into them (``RAMP_SAMPLES``, or a hop for moves in a row;
        at most one redo per hop, a later move waits for the next). A
        mapping's ``smooth`` glides it. Dry/wet changes ramp linearly over
        ``RAMP_SAMPLES``.
    max_block : int
        Largest block ``process`` is given.

    Attributes
    ----------
    latency_samples : int
        The exact input-to-output delay of both paths, in samples at
        ``sample_rate``: ``n_fft - 2`` at the model's rate; otherwise that
        delay mapped to ``sample_rate`` and rounded up, plus the resamplers'
        look-ahead (``RateBridge.latency_samples``).
    nonfinite_input : int
        Non-finite input samples seen (each replaced by 0).
    """

    def __init__(self, bundle, *, knobs=(1.0,) * N_KNOBS, preset="equal", sizes=None, wet=1.0,
                 sample_rate=None, smoothing=0.0, max_block=8192):
        m = bundle.manifest
        if bundle.encoder_session is None:
            raise InputError(f"{m.folder}: expected a bundle with an encoder for the ANNe "
                             f"effect, found none (encoder.onnx not listed)")
        self.manifest = m
        self.sample_rate = int(sample_rate or m.sample_rate)
        self.max_block = int(max_block)
        self.sizes = knob_sizes(m.latent_dim, preset, sizes, source=m.path)
        self._enc = bundle.encoder_binding(1)
        self._dec = bundle.decoder_binding(1)
        if self.sample_rate == m.sample_rate:
            self._stft = StftProcessor(m.n_fft, m.hop, frame_fn=self._frame, chunk=self.max_block)
            self._wet_path = self._stft
        else:
            stft = StftProcessor(m.n_fft, m.hop, frame_fn=self._frame, chunk=self.max_block)
            self._stft = stft
            self._wet_path = RateBridge(lambda b, o: stft.process(b, out=o),
                                        stft.latency_samples, m.sample_rate, self.sample_rate,
                                        self.max_block)
        self.latency_samples = self._wet_path.latency_samples
        self._delay = np.zeros(self.latency_samples + self.max_block)
        self._input = np.zeros(self.max_block)
        self._mag = np.zeros(m.n_bins)
        self._unit = np.zeros(m.n_bins, np.complex128)
        self._features = np.zeros(m.n_features, np.float32)
        self._gain = np.ones(m.latent_dim)         # target per-neuron gains (knob x trim)
        self._trim = np.ones(m.latent_dim)         # per-neuron gains set on their own
        self._gain_now = np.ones(m.latent_dim)     # smoothed, per frame
        self._alpha = one_pole_alpha(m.hop / m.sample_rate, smoothing)
        # the frames in the overlap-add, a ring (latent, input phase, frame max), so a
        # knob move is heard at once: they are decoded again with the new gains (`_redo`)
        k = -(-m.n_fft // m.hop) + 2
        self._ring_z = np.zeros((k, m.latent_dim), np.float32)
        self._ring_unit = np.zeros((k, m.n_bins), np.complex128)
        self._ring_peak = np.zeros(k)
        self._ring = np.zeros(2, np.int64)         # next row written, rows filled
        self._redo_spec = np.zeros((k, m.n_bins), np.complex128)
        self._redo_time = np.zeros((k, m.n_fft))
        # knob moves are redone at most once per slot of one hop (at the device rate) of
        # the output clock; a later one waits for the next slot (the block is split there)
        self._slot = max(1, round(m.hop * self.sample_rate / m.sample_rate))
        # a knob move is heard whole a slot after it is redone (the redo crossfades over
        # one): glides of the knobs and gains run this far ahead (control.Automation)
        self.glide_lead = {"knob": self._slot, "gain": self._slot}
        self._moved = False
        self._redone_slot = -1
        # which knob moves may redo (those within 85 ms of a motion's start, as CANNe's
        # latents), and a ration: two redos a second on average (a redo decodes every
        # frame in the window again: 6 decoder calls for models/anne)
        self._gate = JumpGate(self._slot, burst=0.085 * self.sample_rate / self._slot,
                              capacity=2, refill=self.sample_rate)
        self._clock = 0
        self.redos = 0                             # knob moves heard at once (diagnostics)
        self._wet_left = 0                         # samples of the wet ramp to go
        self._wet_target = 0.0
        self._wet_buf = np.zeros(self.max_block)
        self._limiter = SafetyLimiter(self.sample_rate)
        self.knobs = [1.0] * N_KNOBS
        self.set_knobs(knobs)
        self.wet = self._check_wet(wet)
        self.bypass = False
        self.nonfinite_input = 0
        self.reset()

    # ----------------------------------------------------------- control --
    def set_knob(self, index, gain):
        """Set knob ``index`` (0..4 = a..e) to ``gain`` in [0.5, 5.5]."""
        lo, hi = GAIN_RANGE
        if not (lo <= gain <= hi):
            raise InputError(f"knob {'abcde'[index]}={gain!r}: expected a gain in [{lo}, {hi}]")
        self.knobs[index] = float(gain)
        start = sum(self.sizes[:index])
        stop = start + self.sizes[index]
        np.multiply(self._trim[start:stop], gain, out=self._gain[start:stop])
        self._moved = True

    def set_knobs(self, gains):
        gains = list(gains)
        if len(gains) != N_KNOBS:
            raise InputError(f"knobs={gains!r}: expected {N_KNOBS} gains a,b,c,d,e")
        for i, g in enumerate(gains):
            self.set_knob(i, g)

    def set_sizes(self, preset, sizes=None):
        """Change the sub-vector layout, keeping the knob gains."""
        self.sizes = knob_sizes(self.manifest.latent_dim, preset, sizes, source=self.manifest.path)
        self.set_knobs(self.knobs)

    def set_neuron_gain(self, neuron, gain):
        """One latent neuron's own gain (>= 0), multiplied by its knob's gain."""
        gain = max(0.0, float(gain))
        self._trim[neuron] = gain
        knob, start = 0, self.sizes[0]
        while neuron >= start and knob < len(self.sizes) - 1:
            knob += 1
            start += self.sizes[knob]
        self._gain[neuron] = gain * self.knobs[knob]
        self._moved = True

    @property
    def neuron_gains(self):
        """Each neuron's own gain (the knob gains not included)."""
        return self._trim.copy()

    def set_wet(self, wet):
        self.wet = self._check_wet(wet)

    def apply(self, command):
        """Control commands: ``("knob", i, value01)`` maps 0..1 onto the gain range,
        ``("wet", value01)``, ``("bypass", bool)``, ``("gain", neuron, gain)``; others
        are ignored (returns False)."""
        name = command[0]
        if name == "knob":
            lo, hi = GAIN_RANGE
            self.set_knob(command[1], lo + (hi - lo) * min(1.0, max(0.0, command[2])))
        elif name == "gain":
            if 0 <= command[1] < self._trim.size:
                self.set_neuron_gain(command[1], command[2])
        elif name == "wet":
            self.set_wet(min(1.0, max(0.0, command[1])))
        elif name == "bypass":
            self.bypass = bool(command[1])
        else:
            return False
        return True

    def reset(self):
        """A fresh stream: silence before the next sample, gains and wet at their targets."""
        self._wet_path.reset()
        if self._stft is not self._wet_path:
            self._stft.reset()
        self._delay[:] = 0.0
        self._gain_now[:] = self._gain
        self._ring[:] = 0
        self._moved = False
        self._redone_slot = -1
        self._gate.reset()
        self._clock = 0
        self._wet_now = self._wet_target = 0.0 if self.bypass else self.wet
        self._wet_left = 0
        self._limiter.reset()

    def load_kernels(self):
        """Call once the numba kernels a knob move reaches (the redo of the frames
        sounding), so that their machine code is loaded by the hosts' warm-up and not
        in an audio block (results thrown away)."""
        OverlapAdd(8, 2).rebuild(np.zeros((6, 8)), np.zeros(1), RAMP_SAMPLES)

    @property
    def nonfinite_count(self):
        """Non-finite values the output guard replaced (0 for a healthy model)."""
        return self._limiter.nonfinite_count

    # ------------------------------------------------------------- audio --
    def process(self, block, out=None):
        """Process ``len(block)`` mono samples at ``sample_rate``; return ``out``.

        ``out`` may be ``block`` itself (the input is copied first). Non-finite
        input samples count as 0 (and are counted in :attr:`nonfinite_input`).
        """
        block = np.asarray(block)
        n = block.shape[0]
        if n > self.max_block:
            raise InputError(f"block of {n} samples: expected at most max_block={self.max_block}")
        if out is None:
            out = np.empty(n, np.float64)
        x = self._input[:n]
        self.nonfinite_input += _finite_copy(block, x)
        wet = self._wet_buf[:n]
        at = self._knob_due(n)
        if at < 0:
            self._wet_path.process(x, out=wet)
        else:  # a knob moved: from sample `at` on, the frames sounding use its gains
            if at:
                self._wet_path.process(x[:at], out=wet[:at])
            self._redo(self._clock + at)
            self._wet_path.process(x[at:], out=wet[at:])
        self._clock += n
        # the dry path, delayed by exactly the wet path's latency
        d, lag = self._delay, self.latency_samples
        d[lag:lag + n] = x
        target = 0.0 if self.bypass else self.wet
        if target != self._wet_target:
            self._wet_target = target
            self._wet_left = RAMP_SAMPLES
        w, self._wet_left = _mix(d[:n], wet, self._wet_now, target, self._wet_left, out)
        self._wet_now = w
        move_to_front(d, n, n + lag)
        if w == 0.0 and _within_full_scale(out):
            return out  # exact dry: the limiter must not touch the input
        self._limiter.process(out, out=out)
        return out

    #: frames whose encoder or decoder output held NaN/Inf (each was silenced); the
    #: host's monitor thread reads it and says so once (the audio thread never prints)
    model_nonfinite = 0
    #: an effect holds no voices (read by a live view like a synth's count)
    active_voices = 0

    def _frame(self, index, spec):
        mag = self._mag
        row = self._ring[0]
        self._ring[0] = (row + 1) % self._ring_peak.shape[0]
        self._ring[1] = min(self._ring[1] + 1, self._ring_peak.shape[0])
        self._ring_peak[row] = 0.0  # silence, or a frame the model failed on
        peak = _split(spec, mag, self._unit)
        if not peak > 1e-12:
            return  # silence stays silence
        frame_features(mag, self.manifest.input_features, out=self._features)
        self._enc.input[0] = self._features
        z = self._enc.run()[0]
        smooth_step(self._gain_now, self._gain, self._alpha)  # in place: nothing allocated
        if all_finite(z):
            np.multiply(z, self._gain_now, out=self._dec.input[0])
            decoded = self._dec.run()[0]
            if all_finite(decoded):
                _join(self._unit, decoded, peak, spec)
                self._ring_z[row] = z
                self._ring_unit[row] = self._unit
                self._ring_peak[row] = peak
                return
        # the model broke down on this frame: silence it (overlap-add fades it in and out
        # over the window) rather than spread NaN; the next frame is tried afresh
        self.model_nonfinite += 1
        spec[:] = 0.0

    def _knob_due(self, n):
        """Offset in the next ``n`` samples at which a knob move is redone, -1 if none.

        At once if no move was redone in this slot of the output clock, else at the
        next slot: a knob's stream of CCs costs at most one redo per hop.
        """
        if not self._moved:
            return -1
        if self._alpha < 1.0:
            self._moved = False  # a smoothing was asked for: the frames glide it
            return -1
        slot = self._clock // self._slot
        if slot != self._redone_slot:
            return 0
        due = (slot + 1) * self._slot - self._clock
        return due if due < n else -1

    def _redo(self, clock):
        """Decode the frames still sounding again with the knobs' gains; crossfade into them
        (``clock``: the output sample it happens at)."""
        self._moved = False
        self._redone_slot = clock // self._slot
        self._gain_now[:] = self._gain
        ramp = self._gate.ramp(clock)  # near the start of a motion, else 0
        if not (ramp and self._gate.take(clock)):
            return  # the frames from the next one on take the new gains
        rows, k = self._ring_peak.shape[0], int(self._ring[1])
        if k == 0:
            return
        self.redos += 1
        spec = self._redo_spec
        for j in range(k):
            row = (self._ring[0] - k + j) % rows
            spec[j] = 0.0
            if self._ring_peak[row] > 0.0:
                np.multiply(self._ring_z[row], self._gain_now, out=self._dec.input[0])
                decoded = self._dec.run()[0]
                if all_finite(decoded):
                    _join(self._ring_unit[row], decoded, self._ring_peak[row], spec[j])
        np.fft.irfft(spec[:k], n=self.manifest.n_fft, axis=1, out=self._redo_time[:k])
        self._stft.rebuild(self._redo_time[:k],
                           max(1, round(ramp * self.manifest.sample_rate / self.sample_rate)))

    def _check_wet(self, wet):
        if not (0.0 <= wet <= 1.0):
            raise InputError(f"wet={wet!r}: expected a dry/wet amount in [0, 1]")
        return float(wet)


@njit(cache=True, nogil=True)
def _finite_copy(src, dst):
    # the input guard: a NaN or Inf sample would spread through a whole window
    bad = 0
    for i in range(src.shape[0]):
        v = src[i]
        if math.isfinite(v):
            dst[i] = v
        else:
            dst[i] = 0.0
            bad += 1
    return bad


@njit(cache=True, nogil=True)
def _mix(dry, wet, w, target, left, out):
    # linear ramp of the wet amount to its target; at exactly 0 the wet path is
    # not read, so the output is the dry input bit for bit
    for i in range(out.shape[0]):
        if w != target:
            w, left = ramp_sample(w, target, left)
        out[i] = dry[i] if w == 0.0 else (1.0 - w) * dry[i] + w * wet[i]
    return w, left


@njit(cache=True, nogil=True)
def _within_full_scale(x):
    for i in range(x.shape[0]):
        if not abs(x[i]) <= 1.0:
            return False
    return True


@njit(cache=True, nogil=True)
def _split(spec, mag, unit):
    # magnitude normalised by the frame max, and the unit phasor (1 where |X| = 0)
    peak = 0.0
    for m in range(spec.shape[0]):
        a = abs(spec[m])
        mag[m] = a
        unit[m] = spec[m] / a if a > 0.0 else 1.0
        if a > peak:
            peak = a
    if peak > 1e-12:
        for m in range(spec.shape[0]):
            mag[m] /= peak
    return peak


@njit(cache=True, nogil=True)
def _join(unit, mag, peak, spec):
    for m in range(spec.shape[0]):
        spec[m] = unit[m] * (mag[m] * peak)
