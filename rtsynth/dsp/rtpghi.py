"""RTPGHI: causal phase reconstruction from magnitude frames, one frame per call."""

from collections import namedtuple

import numpy as np
from numba import njit

from ..errors import InputError
from ._buckets import new_queues
from ._pghi import LOG_FLOOR, count_bad, pghi_step, steady_frames
from .stft import check_geometry
from .windows import gaussian_gamma

__all__ = ["RTPGHI"]


class RTPGHI:
    """Real-time phase gradient heap integration (Průša & Søndergaard, DAFx 2016).

    Each call takes the magnitude of one STFT frame (Hann window, hop ``hop``)
    and returns complex coefficients in the :func:`~rtsynth.dsp.stft`
    convention, so that overlap-adding the returned frames
    (:class:`~rtsynth.dsp.OverlapAdd`) yields a signal whose STFT magnitude is
    close to the given one. The phase of frame n is integrated from frame n-1
    along time (phase advance from the frequency slope of log magnitude) and
    along frequency (group delay from the time slope of log magnitude), in
    order of decreasing magnitude (heap).

    Parameters
    ----------
    n_fft : int
        FFT/window length (even).
    hop : int
        Hop in samples (1 .. n_fft/2).
    lookahead : {0, 1}
        0: causal, the frequency derivative of frame n uses frames n, n-1,
        n-2, and ``process`` returns frame n. 1: it uses frames n+1 and n-1,
        and ``process`` returns frame n-1 (one frame of extra latency).
    tol : float
        Relative tolerance: bins more than ``-20*log10(tol)`` dB below the
        louder of the two frames involved get a random phase.
    seed : int
        Seed of the random phases (reproducible output).
    on_nonfinite : {'raise', 'zero'}
        What to do with NaN, infinite or negative magnitudes: raise an
        :class:`~rtsynth.errors.InputError` (ValueError), or treat them as 0
        (for the audio thread, where raising is not an option; the number
        replaced is added to ``nonfinite_count``).
    scratch : optional
        Working memory from :meth:`new_scratch`, shared by instances that run
        one after the other in one thread (a synth's voices): it then stays in
        cache from one voice's frame to the next (default: an instance's own).

    Attributes
    ----------
    latency_frames : int
        Equal to ``lookahead``.
    n_bins : int
        ``n_fft // 2 + 1``.
    nonfinite_count : int
        Magnitudes replaced by 0 so far (``on_nonfinite='zero'``).

    Notes
    -----
    Per-call work runs in one numba kernel (``nogil``) on preallocated state;
    ``process(mag, out=buf)`` allocates nothing. Construction runs the kernel
    once so that compilation (cached on disk) never happens in the first real
    call.
    """

    def __init__(self, n_fft, hop, *, lookahead=0, tol=1e-5, seed=0, on_nonfinite="raise",
                 scratch=None):
        check_geometry(n_fft, hop)
        if lookahead not in (0, 1):
            raise InputError(f"lookahead={lookahead!r}: expected 0 (causal) or 1")
        if not 0.0 < tol < 1.0:
            raise InputError(f"tol={tol!r}: expected a relative tolerance in (0, 1)")
        if on_nonfinite not in ("raise", "zero"):
            raise InputError(f"on_nonfinite={on_nonfinite!r}: expected 'raise' or 'zero'")
        self.n_fft, self.hop = int(n_fft), int(hop)
        self.n_bins = m2 = self.n_fft // 2 + 1
        self.lookahead = self.latency_frames = int(lookahead)
        self.tol = float(tol)
        self.seed = int(seed)
        self.on_nonfinite = on_nonfinite
        self.nonfinite_count = 0
        self._params = np.array(
            [self.hop, self.n_fft, gaussian_gamma(self.n_fft), np.log(self.tol), self.lookahead],
            dtype=np.float64)
        self._mags = np.zeros((2, m2))
        self._slogs = np.zeros((3, m2))
        self._smaxes = np.zeros(3)
        self._ends = np.zeros(3, dtype=np.int64)
        self._tgrads = np.zeros((3, m2))
        self._phase = np.zeros(m2)
        if scratch is None:
            scratch = RTPGHI.new_scratch(self.n_fft, self.tol)
        elif not (isinstance(scratch, _Scratch) and scratch.n_bins == m2 and scratch.tol == self.tol):
            found = (f"one for n_bins={scratch.n_bins}, tol={scratch.tol}"
                     if isinstance(scratch, _Scratch) else f"a {type(scratch).__name__}")
            raise InputError(f"scratch: expected RTPGHI.new_scratch(n_fft={self.n_fft}, "
                             f"tol={self.tol}); found {found}")
        self._fgrad, self._done = scratch.fgrad, scratch.done
        self._heads, self._groups, self._qstate = scratch.heads, scratch.groups, scratch.qstate
        self._links = scratch.links
        self._rng = np.zeros(1, dtype=np.uint64)
        self._state = np.zeros(2, dtype=np.int64)
        self._mag_in = np.zeros(m2)
        self._phase0 = np.zeros(m2)
        self._anchor = np.zeros(m2)
        self._warm_up()

    @staticmethod
    def new_scratch(n_fft, tol=1e-5):
        """Per-frame working memory that instances of the same ``n_fft`` and ``tol`` can share."""
        m2 = int(n_fft) // 2 + 1
        # two bucket queues: the integration's, and the seeds' (bins with no anchor)
        heads, groups, qstate = new_queues(2, np.log(tol))
        return _Scratch(m2, float(tol), np.zeros(m2), np.zeros(m2, dtype=np.int8), heads, groups,
                        qstate, np.zeros(3 * m2, dtype=np.int64))

    def reset(self):
        """Forget all previous frames (the next frame starts from silence)."""
        self._mags[:] = 0.0
        self._slogs[:] = LOG_FLOOR
        self._smaxes[:] = LOG_FLOOR
        self._ends[:] = 0
        self._tgrads[:] = 0.0
        self._phase[:] = 0.0
        self._state[:] = 0
        # xorshift needs a non-zero state; splitmix-style spread of the seed
        self._rng[0] = np.uint64((self.seed * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) % (1 << 64) or 1)
        self.nonfinite_count = 0

    def process(self, mag, out=None):
        """Phase one magnitude frame.

        Parameters
        ----------
        mag : ndarray, shape (n_fft//2 + 1,), real
            Magnitude of frame n (any scale; non-negative).
        out : ndarray, shape (n_fft//2 + 1,), complex128, optional

        Returns
        -------
        ndarray, shape (n_fft//2 + 1,), complex128
            Coefficients of frame n (lookahead 0) or n-1 (lookahead 1; zeros on
            the first call). ``out`` when given.
        """
        mag = np.asarray(mag)
        if mag.shape != (self.n_bins,):
            raise InputError(
                f"mag.shape={mag.shape}: RTPGHI(n_fft={self.n_fft}) expects one magnitude "
                f"frame of {self.n_bins} bins")
        if out is None:
            out = np.empty(self.n_bins, dtype=np.complex128)
        elif out.shape != (self.n_bins,) or out.dtype != np.complex128:
            raise InputError(
                f"out has shape={out.shape} dtype={out.dtype}: expected ({self.n_bins},) complex128")
        if mag.dtype != np.float64:
            self._mag_in[:] = mag
            mag = self._mag_in
        if self.on_nonfinite == "raise":
            self._check(mag)
        self.nonfinite_count += pghi_step(
            mag, self._mags, self._slogs, self._smaxes, self._ends, self._tgrads, self._phase, self._fgrad, self._done,
            self._heads, self._groups, self._links, self._qstate, self._rng, self._state,
            self._params, out)
        return out

    def prefill(self, mag, out, keep_phase=False):
        """Phase ``len(out)`` frames of an unchanging magnitude as if it had always been there.

        Used at a note onset: overlap-adding these frames gives the steady
        sound from the first output sample, instead of the causal integrator's
        onset transient. Afterwards the state is as if ``process(mag)`` had
        been called ``len(out)`` times on a long steady history, so the next
        ``process`` continues seamlessly.

        Parameters
        ----------
        mag : ndarray, shape (n_fft//2 + 1,)
        out : ndarray, shape (k, n_fft//2 + 1), complex128, k >= 1
        keep_phase : bool
            Redo the last ``k`` frames instead of starting afresh: the last
            frame keeps the phase the last frame phased had, the earlier ones
            step back from it at ``mag``'s own rates. A sound whose spectrum
            jumps (a synth's knob) is then re-made with partials that stay
            in phase with what was playing, so crossfading into it does not
            cancel them.

        Returns
        -------
        ndarray
            ``out``.
        """
        if out.ndim != 2 or out.shape[1] != self.n_bins or out.shape[0] < 1:
            raise InputError(f"out.shape={out.shape}: expected (k >= 1, {self.n_bins})")
        mag = np.asarray(mag, dtype=np.float64)
        if mag.shape != (self.n_bins,):
            raise InputError(
                f"mag.shape={mag.shape}: RTPGHI(n_fft={self.n_fft}) expects one magnitude "
                f"frame of {self.n_bins} bins")
        if self.on_nonfinite == "raise":
            self._check(mag)
        replaced = self.nonfinite_count
        if keep_phase:
            self._anchor[:] = self._phase
        self.reset()
        # a steady history: one step fills frame n's log magnitude and tgrad;
        # copying them over the older slots makes frames n-2 and n-1 equal to it
        self.process(mag, out=out[0])
        head = int(self._state[1])
        for ring in (self._slogs, self._tgrads, self._smaxes, self._ends):
            ring[:] = ring[head]
        self._mags[:] = self._mags[int(self._state[0]) % 2]
        self._phase[:] = 0.0
        self._phase0[:] = self._phase
        self.process(mag, out=out[0])
        if keep_phase:
            self.nonfinite_count += replaced
            _end_at(self._phase0, self._phase, self._anchor, out.shape[0])
        steady_frames(self._phase0, self._phase, self._mags[self._state[0] % 2], out)
        return out

    def flush(self, out=None):
        """Return the frame still held back by ``lookahead=1`` (zeros when lookahead=0).

        The missing next frame is taken to equal the last one.
        """
        if self.lookahead == 0:
            if out is None:
                out = np.zeros(self.n_bins, dtype=np.complex128)
            else:
                out[:] = 0.0
            return out
        last = self._mags[self._state[0] % 2].copy()
        return self.process(last, out=out)

    def _check(self, mag):
        if count_bad(mag):
            bad = ~(np.isfinite(mag) & (mag >= 0))
            first = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"mag[{first}]={mag[first]!r}: expected finite non-negative magnitudes; "
                f"found {int(bad.sum())} bad value(s) in a frame of {self.n_bins} bins")

    def _warm_up(self):
        # compile (or load from the on-disk cache) now, not in the first real call
        self.reset()
        probe = np.abs(np.cos(np.arange(self.n_bins, dtype=np.float64)))
        self.process(probe)
        self.reset()


_Scratch = namedtuple("_Scratch", "n_bins tol fgrad done heads groups qstate links")


@njit(cache=True, nogil=True)
def _end_at(phase0, phase1, last, k):
    # shift the steady run phase0 -> phase1 (one frame's step) so its k-th frame is `last`
    for m in range(phase0.shape[0]):
        step = phase1[m] - phase0[m]
        phase0[m] = last[m] - k * step
        phase1[m] = phase0[m] + step
