"""CANNe: the latent-controlled spectral synthesizer, as a pure block processor.

Signal flow (design.md): 8 latents (smoothed per control tick) -> decoder (ONNX,
run only when the latents move) -> per-voice magnitude transform (pitch or
thesis bin shift, plus the model-rate -> output-rate frequency correction) ->
per-voice RTPGHI -> overlap-add -> per-voice ADSR and velocity -> mix ->
safety limiter. The engine never knows whether it runs live or offline: the
host calls the event methods at the exact sample where an event falls (by
splitting the block there) and ``process`` for the samples in between, so a
render is sample-identical whatever the block sizes.
"""

import math

import numpy as np
from numba import njit

from ..dsp import HarmonicPlacer, PartialShifter, RTPGHI, midi_to_hz, roll_bins
from ..dsp.spectral import F0Estimator
from ..errors import InputError
from .bank import VoiceBank, emit, plan
from .jumps import JumpGate
from .limiter import SafetyLimiter, all_finite
from .smoothing import RAMP_SAMPLES, one_pole_alpha, smooth_step
from .envelope import IDLE
from .voice import Voice, fifo_length

__all__ = ["CanneSynth", "MODES", "START_SLOT", "STARTS_PER_SLOT", "DEFAULT_REDUNDANCY", "JUMP",
           "JUMP_COST"]

#: note -> sound modes: the played pitch, or the thesis' integer bin roll
MODES = ("pitch", "shift", "shift-nowrap")
MAX_VOICES = 64
#: default synthesis redundancy n_fft / hop, chosen by measurement
#: (benchmarks/canne_live.py, JACK dummy 48 kHz/256, 32 voices, n_fft 4096):
#: hop 256 ran at 48 % median DSP load, hop 512 at 24 %, with similar p99
DEFAULT_REDUNDANCY = 8
#: voice starts per START_SLOT samples of the stream's clock: a note-on costs a
#: prefill (~0.28 ms), so 8 of them in one 256-sample block took 2.3 ms and a
#: 32-note cluster overran the period live; later starts wait for the next slot
#: (at most 5.3 ms per 4 notes at 48 kHz). The slots sit on the absolute clock,
#: not on blocks, so offline and live stay identical at any block size.
START_SLOT = 256
STARTS_PER_SLOT = 4
#: a latent move that changes the decoded spectrum by at least this much (L2 distance
#: of the two spectra at equal RMS, 0..sqrt(2)) near the start of a motion
#: (:class:`~rtsynth.engine.jumps.JumpGate`) is a jump: the sounding voices move to the
#: new spectrum at once (``Voice.respectrum``: one to two prefills' cost each, so it
#: takes JUMP_COST of the starts' budget) instead of fading it in over the window (93 ms for
#: CANNe). One CC step of a latent typically moves the spectrum by 0.02-0.03, eight
#: steps by 0.15-0.25 (models/canne).
JUMP = 0.2
#: seconds in which the ration of voice redos for jumps refills (every voice once): a
#: full chord jumps at most once a second on average, a single note up to `polyphony`
#: times; a MIDI storm throwing latents (benchmarks/soak.py) then costs a chord's
#: redo a second, which left its p99 DSP load where it was without jumps
JUMP_REFILL = 1.0
#: voice starts a voice's redo counts as in the start budget: in a live block it cost
#: 1.5-2 prefills (the decode and the frames due land in the same block), and with 4
#: redos a block took up to 6.4 ms on a slow machine (2 redos: about half)
JUMP_COST = 2
#: seconds from the start of a latent motion within which it may jump: a knob thrown by
#: hand or a short glide is followed at once, a long sweep glides through the window
JUMP_BURST = 0.085


class CanneSynth:
    """Polyphonic CANNe synthesizer.

    Parameters
    ----------
    bundle : rtsynth.model.ModelBundle
        Any bundle; only its decoder is used.
    sample_rate : int, optional
        Output rate (default: the model's). Synthesis runs at this rate with
        the model's n_fft; the frequency axis is rescaled by
        ``model_rate / sample_rate`` so pitch stays right without resampling.
    hop : int, optional
        Synthesis hop in samples, independent of the training hop (default
        ``n_fft // DEFAULT_REDUNDANCY``: 512 at n_fft 4096).
    polyphony : int
        Voices (1..64); the oldest voice is stolen beyond that.
    mode : {'pitch', 'shift', 'shift-nowrap'}
        'pitch': each voice sounds its note (the decoded spectrum's estimated
        fundamental is moved onto the note, A4 = ``a4`` Hz). 'shift': the
        thesis' circular roll of the spectrum by ``bins_per_semitone`` bins per
        semitone from note 60; 'shift-nowrap' drops what rolls off the end.
    bend_range : float
        Semitones for a full pitch-bend deflection.
    velocity_curve : float
        Level = (velocity / 127) ** velocity_curve.
    adsr : tuple of float
        (attack s, decay s, sustain level, release s).
    latents : array_like, optional
        Starting latents (default: the manifest's first preset, else the
        middle of each latent's range).
    smoothing : float
        Extra one-pole time constant (s) on latent changes, per control tick.
        Default 0: new latents apply from the next tick, or from their own
        sample when the decoder has not run since the last tick; the frames'
        overlap-add crossfades them, and a jump of the spectrum (:data:`JUMP`)
        redoes the sounding voices' frames at once, so a knob adds no lag of
        its own (a mapping's ``smooth`` glides it). With smoothing, no jumps.
    level : float
        RMS of one voice at full velocity.
    max_block : int
        Largest block ``process`` is given.
    """

    def __init__(self, bundle, *, sample_rate=None, hop=None, polyphony=8, mode="pitch",
                 bins_per_semitone=1.0, a4=440.0, bend_range=2.0, velocity_curve=2.0,
                 adsr=(0.005, 0.1, 0.8, 0.3), latents=None, smoothing=0.0, level=0.1,
                 max_block=8192):
        m = bundle.manifest
        if mode not in MODES:
            raise InputError(f"mode={mode!r}: expected one of {', '.join(MODES)}")
        if not 1 <= int(polyphony) <= MAX_VOICES:
            raise InputError(f"polyphony={polyphony!r}: expected 1..{MAX_VOICES}")
        self.manifest = m
        self.sample_rate = int(sample_rate or m.sample_rate)
        self.n_fft = m.n_fft
        self.hop = int(hop) if hop is not None else self.n_fft // DEFAULT_REDUNDANCY
        if not 1 <= self.hop <= self.n_fft // 4:
            raise InputError(f"hop={hop!r}: expected 1..{self.n_fft // 4} (n_fft/4)")
        self.mode, self.a4, self.bins_per_semitone = mode, float(a4), float(bins_per_semitone)
        self.bend_range, self.velocity_curve = float(bend_range), float(velocity_curve)
        self.level, self.max_block = float(level), int(max_block)
        self.latency_samples = 0  # a note sounds from its own sample on
        # samples a latent change takes to be heard whole: each tick's decode crossfades in
        # over the next hop. Glides of the latents run this far ahead (control.Automation),
        # so the sound follows a glide's line instead of trailing it by a hop
        self.glide_lead = {"latent": self.hop}
        self._rate_ratio = m.sample_rate / self.sample_rate
        self._decoder = bundle.decoder_binding(1)
        self._lo, self._hi = (np.array(m.latent_range, dtype=np.float64).T.copy())
        self._target = np.zeros(m.latent_dim)
        self._z = np.zeros(m.latent_dim)
        self._alpha = one_pole_alpha(self.hop / self.sample_rate, smoothing)
        self._base = np.zeros(m.n_bins)  # decoded spectrum at the model rate, level-scaled
        self._base_version = 0
        self._f0 = 0.0
        self._f0_est = F0Estimator(m.n_fft, m.sample_rate)
        self._shifter = PartialShifter(m.n_bins)  # unpitched spectra and rate correction
        self._placer = HarmonicPlacer(m.n_bins)
        self._scratch = np.zeros(m.n_bins)
        self._bend = 0.0
        self._sustain = False
        # staggered leads spread a chord's frame work over the hop (see Voice); voices are
        # taken lowest slot first, so the leads follow the van der Corput sequence
        # (0, 1/2, 1/4, 3/4, ...): any first k voices are spread as evenly as k can be
        leads = [int(self.hop * _van_der_corput(i)) for i in range(int(polyphony))]
        self._adsr = [float(x) for x in adsr]
        # voices are phased one after another: one working memory, kept in cache
        scratch = RTPGHI.new_scratch(self.n_fft)
        # voices, then the stolen voices fading out (tails): one row each of the bank
        n_slots = 2 * len(leads)
        self._bank = VoiceBank(n_slots, fifo_length(self.hop, self.max_block))
        slots = [Voice(self.n_fft, self.hop, self.sample_rate, self.max_block, adsr, d, scratch,
                       self._bank, i) for i, d in enumerate(leads + leads)]
        self._by_slot = slots
        self._voices, self._tails = slots[:len(leads)], slots[len(leads):]
        self._voice_rows = np.arange(len(leads))  # the bank rows of self._voices, in order
        # one batched inverse FFT per step: a voice makes at most 2 frames per step
        # (step <= hop, lead < hop), tails included
        self._spectra = np.zeros((2 * n_slots, m.n_bins), np.complex128)
        self._frames = np.zeros((2 * n_slots, self.n_fft))
        self._ages = 0
        self._starts = 0  # voice starts in the current start slot
        self._pending = np.zeros((128, 2), np.int64)  # deferred (note, velocity)
        self._n_pending = 0
        self._mix = np.zeros(self.max_block)
        self._moved = False  # a latent target was set since the last step began
        self._checked = False  # the decoder ran since the last control tick
        self._jump = 0  # latent jumps so far; a voice is up to date at v.jump_seen == _jump
        self._stale = False  # a voice still sounds the spectrum before the last jump
        # which latent changes may jump, and a ration of voice redos: every voice once per
        # JUMP_REFILL seconds on average, a jump taking one per voice sounding (engine.jumps)
        self._gate = JumpGate(self.hop, burst=JUMP_BURST * self.sample_rate / self.hop,
                              capacity=len(leads), refill=int(JUMP_REFILL * self.sample_rate))
        self._jump_ramp = RAMP_SAMPLES
        self.jumps = 0  # voices moved at once to a jumped spectrum (diagnostics, tests)
        k = self._voices[0].respectrum_frames
        self._jump_spectra = np.zeros((k, m.n_bins), np.complex128)
        self._jump_times = np.zeros((k, self.n_fft))
        self._decoded = np.zeros(m.n_bins)
        self._limiter = SafetyLimiter(self.sample_rate)
        self._clock = 0  # samples produced since reset; control ticks at multiples of hop
        self._make_mag = self._voice_mag
        self.set_latents(latents if latents is not None else self.default_latents())
        self._z[:] = self._target
        self._decode()

    # ----------------------------------------------------------- control --
    def apply(self, command):
        """Apply one control command tuple (the control layer's vocabulary).

        ``("note_on", note, velocity)``, ``("note_off", note)``,
        ``("latent", index, value01)``, ``("pitch_bend", -1..1)``,
        ``("sustain", bool)``, ``("all_notes_off",)``, ``("all_sound_off",)``,
        ``("adsr", stage 0..3, value)``, ``("volume", gain)``, ``("mode", index)``;
        others (e.g. ``("program", n)``) are ignored. Returns True if applied.
        """
        name = command[0]
        if name == "note_on":
            self.note_on(command[1], command[2])
        elif name == "note_off":
            self.note_off(command[1])
        elif name == "latent":
            if command[1] < self._target.size:
                self.set_latent_normalized(command[1], command[2])
        elif name == "pitch_bend":
            self.pitch_bend(command[1])
        elif name == "sustain":
            self.sustain(command[1])
        elif name == "all_notes_off":
            self.all_notes_off()
        elif name == "all_sound_off":
            self.all_sound_off()
        elif name == "adsr":
            self.set_adsr(command[1], command[2])
        elif name == "volume":
            self.set_volume(command[1])
        elif name == "mode":
            self.set_mode(MODES[min(len(MODES) - 1, max(0, int(command[1])))])
        else:
            return False
        return True

    @property
    def adsr(self):
        """(attack s, decay s, sustain level, release s) of every voice."""
        return tuple(self._adsr)

    def set_adsr(self, stage, value):
        """Set one envelope stage (0 attack, 1 decay, 2 sustain, 3 release) on every voice.

        Running envelopes take the new value from their next sample (a release
        already under way keeps its slope).
        """
        self._adsr[stage] = max(0.0, float(value))
        a, d, s, r = self._adsr
        for v in self._voices:
            v.env.set(a, d, s, r)
        for v in self._tails:
            v.env.set(a, d, s, r)

    @property
    def volume(self):
        """Master gain (target) before the safety limiter."""
        return self._limiter.volume

    def set_volume(self, gain):
        """Master gain, glided by the limiter stage (no zipper noise)."""
        self._limiter.set_volume(max(0.0, float(gain)))

    def set_mode(self, mode):
        """Change the note -> sound mode ('pitch', 'shift', 'shift-nowrap') for every voice."""
        if mode not in MODES:
            raise InputError(f"mode={mode!r}: expected one of {', '.join(MODES)}")
        if mode == self.mode:
            return
        self.mode = mode
        self._decode()  # the pitch analysis depends on the mode; voices remake their spectra

    def default_latents(self):
        """The manifest's first preset, else the middle of every latent's range."""
        if self.manifest.presets:
            return np.asarray(next(iter(self.manifest.presets.values())), dtype=np.float64)
        return 0.5 * (self._lo + self._hi)

    @property
    def latents(self):
        """Target latents (what the knobs say; the sound follows within ``smoothing``)."""
        return self._target.copy()

    def set_latents(self, values):
        """Set all target latents (latent units), clipped to the manifest ranges."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != self._target.shape or not np.all(np.isfinite(values)):
            raise InputError(f"latents={values.tolist()!r}: expected "
                             f"{self._target.size} finite values")
        np.clip(values, self._lo, self._hi, out=self._target)
        self._moved = True

    def set_latent(self, index, value):
        """Set one target latent in latent units (clipped to its range)."""
        self._target[index] = min(self._hi[index], max(self._lo[index], value))
        self._moved = True

    def set_latent_normalized(self, index, value01):
        """Set one latent from a 0..1 control value mapped onto its manifest range."""
        self._target[index] = self._lo[index] + (self._hi[index] - self._lo[index]) * value01
        self._moved = True

    def note_on(self, note, velocity):
        """Start ``note`` (MIDI 0..127) at ``velocity`` (1..127) at the current sample.

        Beyond :data:`STARTS_PER_SLOT` starts in one slot of :data:`START_SLOT`
        samples, the note starts at the next slot (5.3 ms later at 48 kHz per
        4 notes, and only for clusters of more than that many simultaneous notes).
        """
        if velocity <= 0:
            self.note_off(note)
            return
        if self._starts >= STARTS_PER_SLOT:
            if self._n_pending < self._pending.shape[0]:
                self._pending[self._n_pending] = (note, velocity)
                self._n_pending += 1
            return
        self._starts += 1
        voice = self._free_voice()
        voice.mag_key = None
        self._voice_mag(voice, note)
        self._ages += 1
        voice.jump_seen = self._jump
        voice.start(note, (velocity / 127.0) ** self.velocity_curve, self._ages)

    def note_off(self, note):
        """Release ``note`` (held on while the sustain pedal is down)."""
        self._drop_pending(note)
        for v in self._voices:
            if v.note == note and v.held:
                if self._sustain:
                    v.sustained = True
                else:
                    v.release()

    def sustain(self, on):
        """Sustain pedal (CC64)."""
        self._sustain = bool(on)
        if not on:
            for v in self._voices:
                if v.sustained:
                    v.release()

    def pitch_bend(self, amount):
        """Pitch bend, -1..1 of ``bend_range`` semitones."""
        self._bend = max(-1.0, min(1.0, float(amount))) * self.bend_range

    def all_notes_off(self):
        """Release every voice (CC123)."""
        self._n_pending = 0
        for v in self._voices:
            if v.active:
                v.release()

    def all_sound_off(self):
        """Silence every voice now (CC120)."""
        self._n_pending = 0
        for v in self._voices + self._tails:
            v.kill()

    @property
    def active_voices(self):
        # one small kernel over the voices' rows of the bank's envelopes: the view
        # posts this every block, and a Python sum over the voices' properties took
        # 10 us of the callback with 8 voices
        return _count_active(self._bank.env_state, self._voice_rows)

    @property
    def nonfinite_count(self):
        """Non-finite values the phase stage and the limiter replaced so far."""
        return self._limiter.nonfinite_count + sum(
            v.phaser.nonfinite_count for v in self._voices + self._tails)

    def reset(self):
        """All sound off and the clock back to 0 (latents are kept)."""
        self.all_sound_off()
        self._limiter.reset()
        self._clock = 0
        self._gate.reset()
        self._z[:] = self._target
        self._decode()

    def load_kernels(self):
        """Call once every numba kernel a block may reach, whatever the spectrum and mode.

        A kernel's first call loads (or compiles) its machine code: several
        milliseconds that must not land in an audio block. Which kernels a block
        reaches depends on the decoded spectrum (no pitch: the partial shifter)
        and on live commands (a ``mode`` switch: the bin roll), so the hosts'
        warm-up calls this; the results are thrown away.
        """
        base, out = self._base, self._scratch
        self._shifter.process(base, 1.0, out)
        roll_bins(base, 1, True, out)
        roll_bins(base, 1, False, out)
        self._placer.render(1.0, out)
        self._f0_est.estimate(base)
        _relative_change(base, base)
        probe = Voice(8, 2, self.sample_rate, 4)  # a throwaway voice: the jump's kernels
        probe.respectrum(np.zeros((6, 5), np.complex128), np.zeros((6, 8)), RAMP_SAMPLES)

    # ------------------------------------------------------------- audio --
    def process(self, out):
        """Render ``len(out)`` mono samples into ``out`` (float32 or float64); return it."""
        n = out.shape[0]
        if n > self.max_block:
            raise InputError(f"block of {n} samples: expected at most max_block={self.max_block}")
        done = 0
        while done < n:
            clock = self._clock
            if clock % START_SLOT == 0:
                self._start_slot()
            if clock % self.hop == 0:
                self._tick()
            elif self._moved:
                self._check_jump()
            if self._stale:
                self._follow_jump()
            step = min(n - done, self.hop - clock % self.hop, START_SLOT - clock % START_SLOT)
            mix = self._mix[:step]
            mix[:] = 0.0
            self._render_voices(mix)
            self._limiter.process(mix, out=mix)
            out[done:done + step] = mix
            done += step
            self._clock += step
        return out

    # ----------------------------------------------------------- helpers --
    def _render_voices(self, mix):
        """Every sounding voice's next ``len(mix)`` samples, added into ``mix``.

        One kernel finds the sounding voices and their due frames; those
        frames are phased in order (their magnitudes made at frame time), one
        batched inverse FFT serves them all, and one kernel envelopes and mixes
        every voice (:mod:`rtsynth.engine.bank`).
        """
        bank, by_slot = self._bank, self._by_slot
        playing, due = bank.playing, bank.due
        k = plan(bank.env_state, bank.pos, bank.fifo, bank.lead, self.hop, mix.shape[0],
                 playing, due)
        rows = 0
        for i in range(k):
            if due[i]:
                v = by_slot[playing[i]]
                for _ in range(due[i]):
                    self._make_mag(v)
                    v.phase_frame(self._spectra[rows])
                    rows += 1
        if rows:
            np.fft.irfft(self._spectra[:rows], n=self.n_fft, axis=1, out=self._frames[:rows])
            rows = 0
            for i in range(k):
                if due[i]:
                    v = by_slot[playing[i]]
                    for _ in range(due[i]):
                        v.add_frame(self._frames[rows])
                        rows += 1
        if emit(mix, playing, k, bank.fifo, bank.pos, bank.env_state, bank.env_params,
                bank.gain):
            for i in range(k):
                v = by_slot[playing[i]]
                if not v.active:
                    v.note = -1

    def _start_slot(self):
        """Start slot boundary: a fresh budget of starts, the deferred notes first."""
        self._starts = 0
        if self._n_pending:
            n = self._n_pending
            self._n_pending = 0
            for i in range(n):
                self.note_on(int(self._pending[i, 0]), int(self._pending[i, 1]))

    def _check_jump(self):
        """A latent target was set between ticks: apply it now if the decoder has not
        run since the last tick (a jump is then heard from its own sample), else at
        the next tick (a knob's stream of CCs costs one decode per tick, as before)."""
        if self._alpha < 1.0:
            self._moved = False  # a smoothing was asked for: the ticks glide it
        elif not self._checked:
            self._moved = False
            self._checked = self._apply_latents()

    def _apply_latents(self):
        """Latents one (smoothing) step on; decode if they moved (a jump if it is one).
        Returns True if the decoder ran."""
        if not smooth_step(self._z, self._target, self._alpha):
            return False
        ramp = self._gate.ramp(self._clock)  # near the start of a motion, else 0
        if (self._decode() >= JUMP and ramp and self._alpha == 1.0
                and self._gate.take(self._clock, self.active_voices)):
            self._jump_ramp = ramp
            self._jump += 1
            self._stale = True
        return True

    def _follow_jump(self):
        """Move sounding voices to the jumped spectrum, within the slot's budget of starts."""
        for v in self._voices:
            if v.jump_seen != self._jump and v.active:
                if self._starts + JUMP_COST > STARTS_PER_SLOT:
                    return  # the rest at the next slot (meanwhile they fade in as usual)
                self._starts += JUMP_COST
                self.jumps += 1
                self._make_mag(v)
                v.respectrum(self._jump_spectra, self._jump_times, self._jump_ramp)
            v.jump_seen = self._jump
        self._stale = False

    def _tick(self):
        """Control tick (every hop samples): latent smoothing, decoding."""
        self._moved = False  # the tick reads the targets itself
        self._checked = self._apply_latents()

    #: decoder runs whose output held NaN/Inf (those frames were silenced); the host's
    #: monitor thread reads it and says so once (the audio thread never prints)
    model_nonfinite = 0

    def _decode(self):
        """Decode ``_z`` into the base spectrum; return how far it moved (see :data:`JUMP`)."""
        self._decoder.input[0] = self._z
        mag = self._decoder.run()[0]
        base, new = self._base, self._decoded
        if not all_finite(mag):
            # the model broke down at these latents: every voice shares this frame, so
            # silence it (not a spectrum with holes); sound returns when the latents move
            self.model_nonfinite += 1
            base[:] = 0.0
            self._f0 = 0.0
            self._base_version += 1
            return 0.0
        new[:] = mag
        np.maximum(new, 0.0, out=new)
        # scale so a voice has RMS `level`: Parseval over the Hann-windowed frame
        energy = float(np.dot(new, new))
        rms = math.sqrt(16.0 * energy / (3.0 * self.manifest.n_fft ** 2)) if energy > 0 else 0.0
        if rms > 0:
            new *= self.level / rms
        change = _relative_change(new, base)
        base[:] = new
        self._f0 = self._f0_est.estimate(base) if self.mode == "pitch" else 0.0
        if self._f0 > 0:
            self._placer.analyze(base, self._f0 * self.n_fft / self.manifest.sample_rate)
        self._base_version += 1
        return change

    def _voice_mag(self, voice, note=None):
        """Refresh ``voice.mag`` from the base spectrum if anything it depends on moved."""
        note = voice.note if note is None else note
        key = (self._base_version, note, self._bend)
        if voice.mag_key == key:
            return
        voice.mag_key = key
        semis = note - 60 + self._bend
        if self.mode == "pitch":
            if self._f0 > 0:
                ratio = midi_to_hz(note + self._bend, self.a4) / self._f0
            else:  # no pitch found: treat the decoded sound as middle C
                ratio = 2.0 ** (semis / 12.0)
            if self._f0 > 0 and self._placer.n_harmonics:
                # an exact harmonic series at the note: in tune by construction
                self._placer.render(ratio * self._rate_ratio, voice.mag)
            else:
                self._shifter.process(self._base, ratio * self._rate_ratio, voice.mag)
        else:
            target = self._scratch if self._rate_ratio != 1.0 else voice.mag
            roll_bins(self._base, int(round(semis * self.bins_per_semitone)),
                      self.mode == "shift", target)
            if self._rate_ratio != 1.0:
                self._shifter.process(target, self._rate_ratio, voice.mag)

    def _drop_pending(self, note):
        keep = 0
        for i in range(self._n_pending):
            if self._pending[i, 0] != note:
                self._pending[keep] = self._pending[i]
                keep += 1
        self._n_pending = keep

    def _free_voice(self):
        idle = [v for v in self._voices if not v.active]
        if idle:
            return idle[0]
        # steal: the oldest released voice, else the oldest; it fades out in a tail slot
        released = [v for v in self._voices if not v.held]
        victim = min(released or self._voices, key=lambda v: v.age)
        i = self._voices.index(victim)
        tail = next((t for t in self._tails if not t.active),
                    min(self._tails, key=lambda t: t.age))
        j = self._tails.index(tail)
        victim.release(fast=True)
        self._voices[i], self._tails[j] = tail, victim
        self._voice_rows[i] = tail.slot
        tail.kill()
        return tail


@njit(cache=True, nogil=True)
def _relative_change(new, old):
    """``|new - old| / |old|`` (L2); 0 when both are silent, inf from silence."""
    d = 0.0
    o = 0.0
    for i in range(new.shape[0]):
        d += (new[i] - old[i]) ** 2
        o += old[i] ** 2
    if o == 0.0:
        return 0.0 if d == 0.0 else np.inf
    return math.sqrt(d / o)


@njit(cache=True)
def _count_active(env_state, rows):
    # no nogil: releasing the interpreter lock for a few nanoseconds of work would
    # only give another thread the chance to take it from the audio callback
    c = 0
    for r in rows:
        if env_state[r, 0] != IDLE:
            c += 1
    return c


def _van_der_corput(i):
    """The i-th base-2 van der Corput number in [0, 1): bits of i mirrored after the point."""
    x, scale = 0.0, 0.5
    while i:
        x += scale * (i & 1)
        i >>= 1
        scale *= 0.5
    return x
