"""Note -> pitch handling of one magnitude spectrum frame (CANNe synthesizer).

A frame is a magnitude spectrum ``mag`` of shape ``(n_bins,)`` with
``n_bins = n_fft // 2 + 1``; bin ``k`` sits at ``k * sample_rate / n_fft`` Hz.

- :func:`roll_bins` is the thesis' "frequency shift": an integer roll of the
  bins. It moves every partial by the same number of Hz, so harmonics stop
  being harmonic.
- :func:`rescale_frequency` is a true pitch change: content at ``f`` moves to
  ``f * ratio``, so harmonics stay harmonic. The same ratio can also carry a
  sample-rate / FFT-size change (see :func:`bin_ratio`).
- :class:`F0Estimator` finds the fundamental of a harmonic (Hann-windowed)
  magnitude spectrum, to tune a decoded frame to the played note;
  :func:`estimate_f0` is its one-shot (allocating) form.
- :func:`midi_to_hz`, :func:`hz_to_midi` convert between notes and Hz.

The kernels are numba ``nogil`` functions that write into caller-owned ``out``
arrays and allocate nothing, so they can run inside the audio callback. Their
public wrappers validate shapes (cheap) and raise
:class:`~rtsynth.errors.InputError` with one sentence on misuse.
"""

import math

import numpy as np
from numba import njit

from ..errors import InputError

__all__ = [
    "roll_bins", "rescale_frequency", "bin_ratio", "PartialShifter",
    "F0Estimator", "estimate_f0",
    "midi_to_hz", "hz_to_midi",
]


# --------------------------------------------------------------------------- roll / rescale

def roll_bins(mag, shift, wrap, out):
    """Shift a magnitude frame by a whole number of bins (the thesis' frequency shift).

    Parameters
    ----------
    mag : ndarray, shape (n_bins,), float32 or float64
        Magnitude frame.
    shift : int
        Bins to move the content up (positive) or down (negative); one bin is
        ``sample_rate / n_fft`` Hz.
    wrap : bool
        True: circular, exactly ``np.roll(mag, shift)`` (bins pushed past one
        end come back at the other). False: bins pushed past either end are
        dropped and the vacated bins are 0.
    out : ndarray, shape (n_bins,), float
        Destination. May be ``mag`` itself (in place); must not otherwise
        overlap it.

    Returns
    -------
    ndarray, shape (n_bins,)
        ``out``.
    """
    _check_frame("mag", mag)
    _check_out(out, mag.shape[0])
    return _roll_kernel(mag, int(shift), bool(wrap), out)


def rescale_frequency(mag, ratio, out):
    """Resample a magnitude frame along frequency: content at ``f`` moves to ``f * ratio``.

    ``out[k] = interp(mag, k / ratio)`` with linear interpolation between bins
    and 0 where ``k / ratio`` lies beyond ``mag``'s last bin. Harmonics stay
    harmonic (a pitch shift by ``ratio``), unlike :func:`roll_bins`.

    Level: no normalisation is applied, and none is needed to keep a partial's
    level. A partial's peak magnitude stays where it was: for ``ratio > 1`` the
    main lobe is stretched ``ratio`` times wider but keeps its height (the
    output peak samples the input lobe within ``0.5 / ratio`` bins of its
    top; within 1 dB of the input peak, tested at ratio 2); a flat noise
    floor keeps its level too. For ``ratio < 1`` the lobe is narrowed and
    sampled every ``1 / ratio`` input bins, so the output peak can fall
    between input samples (up to -6 dB at ratio 0.5 for a bin-centred
    partial; linear interpolation never overshoots the input's max).

    Parameters
    ----------
    mag : ndarray, shape (n_in,), float32 or float64
        Magnitude frame.
    ratio : float
        Frequency (output bin / input bin) ratio, > 0. For a plain pitch shift
        at one sample rate and FFT size, ``ratio = f_target / f_source``
        (e.g. ``2 ** (semitones / 12)``). When the output frame belongs to a
        different sample rate or FFT size (a 44.1 kHz model played at 48 kHz),
        pass the combined ratio from :func:`bin_ratio`: one call then does
        the pitch shift and the rate conversion together.
    out : ndarray, shape (n_out,), float
        Destination; ``n_out`` may differ from ``n_in`` (FFT-size change). May
        be ``mag`` itself when ``n_out == n_in`` (in place); must not
        otherwise overlap it.

    Returns
    -------
    ndarray, shape (n_out,)
        ``out``.
    """
    _check_frame("mag", mag)
    _check_out(out, None)
    ratio = float(ratio)
    if not (ratio > 0.0 and math.isfinite(ratio)):
        raise InputError(f"ratio={ratio}: expected a finite frequency ratio > 0")
    return _rescale_kernel(mag, ratio, out)


class PartialShifter:
    """Move every partial of a magnitude frame from ``f`` to ``f * ratio``, keeping its shape.

    :func:`rescale_frequency` stretches the whole frequency axis, so at a
    ratio of 2 every partial's main lobe is twice as wide as the window's:
    the resynthesized partial beats like an amplitude-modulated tone, and
    more so the further the note is from the decoded pitch. Here the frame
    is split into regions around its peaks (boundaries at the lowest bin
    between neighbouring peaks) and each region is moved rigidly so that its
    peak lands on ``ratio`` times its frequency (fractional shifts by linear
    interpolation). Lobes keep their width and height, harmonics stay
    harmonic, and the same call does a sample-rate correction (pass the
    combined ratio, see :func:`bin_ratio`). Where regions move apart the gap
    is filled by interpolating between their edges; where they overlap the
    larger value wins.

    Parameters
    ----------
    n_bins : int
        Frame length (``n_fft // 2 + 1``).

    Notes
    -----
    ``process`` allocates nothing (scratch is preallocated) and runs in one
    numba ``nogil`` kernel.
    """

    def __init__(self, n_bins):
        self.n_bins = int(n_bins)
        self._peaks = np.zeros(self.n_bins, np.int64)
        self._bounds = np.zeros(self.n_bins + 1, np.int64)
        self._written = np.zeros(self.n_bins, np.bool_)
        self._centres = np.zeros(self.n_bins)
        self._shifts = np.zeros(self.n_bins)

    def process(self, mag, ratio, out, f0_bins=0.0):
        """Shift the partials of ``mag`` by ``ratio`` into ``out`` (same length); return ``out``.

        With ``f0_bins`` (the fundamental of ``mag`` in bins, e.g. from
        :class:`F0Estimator`), a peak within a quarter of f0 of harmonic h is
        moved as if it sat exactly on ``h * f0_bins``: all harmonics then move
        together and the note lands on ``ratio * f0`` as exactly as f0 was
        fitted. Peak interpolation alone is biased on lobes that are not
        window-shaped (a decoder's output), and shifting down by ``ratio``
        scales that bias into up to ~20 cents at low notes (measured).

        Parameters
        ----------
        mag : ndarray, shape (n_bins,), float
        ratio : float
            > 0; output frequency / input frequency (bins at the output's
            rate/FFT size per bin at the input's).
        out : ndarray, shape (n_bins,), float
            Must not be ``mag``.
        """
        _check_frame("mag", mag)
        _check_out(out, self.n_bins)
        if mag.shape[0] != self.n_bins:
            raise InputError(f"mag.shape={mag.shape}: expected ({self.n_bins},)")
        if not (ratio > 0 and math.isfinite(ratio)):
            raise InputError(f"ratio={ratio!r}: expected a finite ratio > 0")
        if out is mag or np.shares_memory(out, mag):
            raise InputError("out shares memory with mag: expected a separate output frame")
        _shift_partials(mag, float(ratio), float(f0_bins), self._peaks, self._bounds,
                        self._centres, self._shifts, self._written, out)
        return out


def bin_ratio(pitch_ratio=1.0, src_rate=1.0, dst_rate=1.0, src_n_fft=1, dst_n_fft=1):
    """The one ``ratio`` for :func:`rescale_frequency` combining pitch and rate changes.

    Content at frequency ``f`` in the source frame (bin ``f * src_n_fft /
    src_rate``) should land at ``f * pitch_ratio`` in the destination frame
    (bin ``f * pitch_ratio * dst_n_fft / dst_rate``), so the bin ratio is
    ``pitch_ratio * (src_rate / dst_rate) * (dst_n_fft / src_n_fft)``.

    Parameters
    ----------
    pitch_ratio : float
        Frequency ratio of the pitch change (1.0 = none).
    src_rate, dst_rate : float
        Sample rates (Hz) of the source (model) and destination (host) frames.
    src_n_fft, dst_n_fft : int
        FFT sizes of the source and destination frames.

    Returns
    -------
    float
        E.g. a 44.1 kHz / 4096 model played an octave up on a 48 kHz / 4096
        host: ``bin_ratio(2.0, 44100, 48000, 4096, 4096) = 1.8375``.
    """
    return float(pitch_ratio) * (float(src_rate) / float(dst_rate)) * (
        float(dst_n_fft) / float(src_n_fft))


# --------------------------------------------------------------------------- f0

class F0Estimator:
    """Fundamental-frequency estimator for Hann-windowed harmonic magnitude frames.

    Everything it needs is allocated here; :meth:`estimate` allocates nothing,
    releases the GIL in its numba kernel, and takes a bounded time (about
    50-90 us for 2049 bins). One instance per thread: the scratch buffers are
    not shared safely.

    Method:

    1. Harmonic summation over candidate f0s on a log grid fine enough that
       every summed harmonic falls within a bin of its true place:
       ``score(F) = sum_h w_h (P(h F) - P((h - 1/2) F))`` over harmonics up to
       5 kHz (at most 32), ``w_h = h ** -0.4``, with ``P`` the square-root
       compressed spectrum (max-filtered over +-1 bin for the positive term).
       Decaying weights rank the true f0 above its sub-octaves (which only hit
       every other harmonic); the half-harmonic penalty ranks it above the
       octave (whose half positions are the odd harmonics); summing up to a
       fixed frequency rather than a fixed count ranks it above 3 f0 (which
       explains only every third harmonic). A missing or weak fundamental,
       odd-only (square-like) spectra, strong even harmonics and strong
       formants therefore do not cause octave errors.
    2. Refinement: each harmonic's peak near ``h F`` is located to a fraction
       of a bin from its two neighbours, ``(m[p+1] - m[p-1]) / m[p] =
       6 d / (4 - d**2)``, which is exact for a lone Hann-windowed sinusoid
       (log-parabolic interpolation is biased by a few hundredths of a bin),
       and f0 is the amplitude-weighted least-squares fit of ``f_h = h f0``
       over all harmonics below Nyquist (a first pass that predicts each
       harmonic from the fit of the ones below it, then two keeping only
       peaks within 0.25 bin of ``h f0``).
    3. Voicing: the fraction of the frame's energy in the accepted harmonic
       peaks (``harmonicity``, 0..1). Below ``min_harmonicity`` the frame is
       called unpitched and the estimate is 0.0.

    It expects Hann-shaped partial lobes, as in STFT frames and in decoder
    output trained on them; a frame stretched by :func:`rescale_frequency`
    with ``ratio`` above about 1.2 has wider lobes and reads as unpitched.
    Estimate before rescaling.

    Parameters
    ----------
    n_fft : int
        FFT size of the frames (even); frames have ``n_fft // 2 + 1`` bins.
    sample_rate : float
        Sample rate in Hz.
    fmin, fmax : float
        Search range for the fundamental, Hz (``0 < fmin < fmax``). Harmonics
        below about 6 bins apart (``fmin < 6 * sample_rate / n_fft``) are not
        resolved by a Hann window, so accuracy degrades below that.
    min_harmonicity : float
        Voicing threshold on ``harmonicity`` (default 0.5).

    Attributes
    ----------
    harmonicity : float
        Energy fraction in the harmonics found by the last :meth:`estimate`
        (0.0 for silence); the estimate is 0.0 when it is below
        ``min_harmonicity``.

    Examples
    --------
    ::

        est = F0Estimator(4096, 44100.0)   # once, outside the callback
        f0 = est.estimate(mag)             # per changed frame; 0.0 = no pitch
    """

    #: Harmonics scored per candidate in the summation stage.
    MAX_SCORED_HARMONICS = 32
    #: Harmonic h is weighted h ** -WEIGHT_POWER in the summation stage.
    WEIGHT_POWER = 0.4
    #: Highest frequency (Hz) scored in the summation stage.
    SCORE_FMAX_HZ = 5000.0

    def __init__(self, n_fft, sample_rate, fmin=30.0, fmax=2000.0, min_harmonicity=0.5):
        n_fft = int(n_fft)
        if n_fft < 16 or n_fft % 2:
            raise InputError(f"n_fft={n_fft}: expected an even FFT size >= 16")
        sample_rate = float(sample_rate)
        if not sample_rate > 0:
            raise InputError(f"sample_rate={sample_rate}: expected a sample rate > 0 Hz")
        fmin, fmax = float(fmin), float(fmax)
        if not 0.0 < fmin < fmax:
            raise InputError(f"fmin={fmin}, fmax={fmax}: expected 0 < fmin < fmax (Hz)")
        self.n_fft = n_fft
        self.sample_rate = sample_rate
        self.n_bins = n_fft // 2 + 1
        self.fmin, self.fmax = fmin, fmax
        self.min_harmonicity = float(min_harmonicity)
        hz_per_bin = sample_rate / n_fft
        self._hz_per_bin = hz_per_bin
        top = min(self.n_bins - 2.0, self.SCORE_FMAX_HZ / hz_per_bin)
        fmax_bins = min(fmax / hz_per_bin, self.n_bins - 2.0)
        fmin_bins = fmin / hz_per_bin
        if fmax_bins <= fmin_bins:
            raise InputError(f"fmin={fmin}: expected below the Nyquist frequency "
                             f"{sample_rate / 2} Hz")
        # a relative grid step of 1.5/top keeps the top scored harmonic within 3/4 bin
        step = 1.0 + 1.5 / max(top, 8.0)
        n_cand = int(math.ceil(math.log(fmax_bins / fmin_bins) / math.log(step))) + 1
        self._cand = fmin_bins * step ** np.arange(n_cand, dtype=np.float64)
        self._score_top = float(top)
        h = np.arange(1, self.MAX_SCORED_HARMONICS + 1, dtype=np.float64)
        self._weights = h ** -self.WEIGHT_POWER
        self._comp = np.zeros(self.n_bins, dtype=np.float64)
        self._spread = np.zeros(self.n_bins, dtype=np.float64)
        self._result = np.zeros(2, dtype=np.float64)
        self.harmonicity = 0.0

    def estimate(self, mag):
        """Fundamental frequency of one magnitude frame.

        Parameters
        ----------
        mag : ndarray, shape (n_bins,), float32 or float64
            Magnitude spectrum of a Hann-windowed frame (any overall scale).

        Returns
        -------
        float
            f0 in Hz, or 0.0 when the frame has no pitch (silence, noise,
            harmonicity below ``min_harmonicity``, non-finite values).
        """
        _check_frame("mag", mag)
        if mag.shape[0] != self.n_bins:
            raise InputError(f"mag.shape={mag.shape}: expected ({self.n_bins},) for "
                             f"n_fft={self.n_fft}")
        _f0_kernel(mag, self._cand, self._score_top, self._weights,
                   self._comp, self._spread, self._result)
        self.harmonicity = float(self._result[1])
        f0_bins = self._result[0]
        if f0_bins <= 0.0 or self.harmonicity < self.min_harmonicity:
            return 0.0
        return float(f0_bins * self._hz_per_bin)


def estimate_f0(mag, sample_rate, n_fft, fmin=30.0, fmax=2000.0):
    """One-shot fundamental estimate (allocates an :class:`F0Estimator`).

    Convenient offline; in the audio callback keep an :class:`F0Estimator`
    and call its :meth:`~F0Estimator.estimate`, which allocates nothing.

    Parameters
    ----------
    mag : ndarray, shape (n_fft // 2 + 1,)
        Magnitude spectrum of a Hann-windowed frame.
    sample_rate : float
        Hz.
    n_fft : int
        FFT size of the frame.
    fmin, fmax : float
        Search range, Hz.

    Returns
    -------
    float
        f0 in Hz, 0.0 when there is no pitch.
    """
    return F0Estimator(n_fft, sample_rate, fmin, fmax).estimate(mag)


# --------------------------------------------------------------------------- notes

def midi_to_hz(note, a4=440.0):
    """Frequency (Hz) of a MIDI note number (69 = A4 = ``a4``); scalars or arrays.

    Fractional notes are allowed (pitch bend). Returns a float for a scalar.
    """
    if np.ndim(note) == 0:
        return float(a4) * 2.0 ** ((float(note) - 69.0) / 12.0)
    return float(a4) * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69.0) / 12.0)


def hz_to_midi(f, a4=440.0):
    """Fractional MIDI note number of a frequency in Hz (> 0); scalars or arrays.

    Returns a float for a scalar; ``round()`` it for the nearest note.
    """
    if np.ndim(f) == 0:
        f = float(f)
        if not f > 0:
            raise InputError(f"f={f}: expected a frequency > 0 Hz")
        return 69.0 + 12.0 * math.log2(f / float(a4))
    f = np.asarray(f, dtype=np.float64)
    if np.any(~(f > 0)):
        raise InputError("f contains values <= 0 or NaN: expected frequencies > 0 Hz")
    return 69.0 + 12.0 * np.log2(f / float(a4))


# --------------------------------------------------------------------------- private

def _check_frame(name, a):
    if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind != "f":
        shape = getattr(a, "shape", None)
        dtype = getattr(a, "dtype", type(a).__name__)
        raise InputError(f"{name}: shape={shape}, dtype={dtype}: expected a 1-D float array")


def _check_out(out, n):
    if not isinstance(out, np.ndarray) or out.ndim != 1 or out.dtype.kind != "f":
        raise InputError(f"out={type(out).__name__}: expected a 1-D float ndarray")
    if n is not None and out.shape[0] != n:
        raise InputError(f"out.shape={out.shape}: expected ({n},), the shape of mag")


@njit(cache=True, nogil=True)
def _roll_kernel(mag, shift, wrap, out):
    n = mag.shape[0]
    if n == 0:
        return out
    if wrap:
        s = shift % n
        for i in range(n):          # a no-op when out is mag
            out[i] = mag[i]
        if s:                       # rotate right by s in place: three reversals
            _reverse(out, 0, n - 1)
            _reverse(out, 0, s - 1)
            _reverse(out, s, n - 1)
        return out
    if shift >= n or shift <= -n:
        for i in range(n):
            out[i] = 0.0
    elif shift >= 0:                # out[k] = mag[k - shift]; descending is alias-safe
        for k in range(n - 1, shift - 1, -1):
            out[k] = mag[k - shift]
        for k in range(shift):
            out[k] = 0.0
    else:                           # ascending is alias-safe
        for k in range(n + shift):
            out[k] = mag[k - shift]
        for k in range(n + shift, n):
            out[k] = 0.0
    return out


@njit(cache=True, nogil=True)
def _rescale_kernel(mag, ratio, out):
    n_in = mag.shape[0]
    n_out = out.shape[0]
    inv = 1.0 / ratio
    last = n_in - 1
    # ratio >= 1 reads at or below k: go down; ratio < 1 reads at or above k: go up
    # (either way an in-place call never reads a bin it already wrote)
    if ratio >= 1.0:
        for j in range(n_out):
            k = n_out - 1 - j
            out[k] = _interp(mag, k * inv, last)
    else:
        for k in range(n_out):
            out[k] = _interp(mag, k * inv, last)
    return out


@njit(cache=True, nogil=True, inline="always")
def _interp(mag, x, last):
    if x > last:
        return 0.0
    i = int(x)
    if i >= last:
        return mag[last]
    t = x - i
    return mag[i] + t * (mag[i + 1] - mag[i])


@njit(cache=True, nogil=True, inline="always")
def _reverse(a, i, j):
    while i < j:
        t = a[i]
        a[i] = a[j]
        a[j] = t
        i += 1
        j -= 1


@njit(cache=True, nogil=True)
def _f0_kernel(mag, cand, score_top, weights, comp, spread, result):
    """Write [f0 in bins (0 = none), harmonicity] into result; see F0Estimator."""
    n = mag.shape[0]
    result[0] = 0.0
    result[1] = 0.0
    peak = 0.0
    energy = 0.0
    for k in range(n):
        v = float(mag[k])
        if not (v >= 0.0 and v < np.inf):
            return result
        if v > peak:
            peak = v
        energy += v * v
    if peak <= 0.0:
        return result
    inv_peak = 1.0 / peak
    for k in range(n):
        comp[k] = math.sqrt(mag[k] * inv_peak)
    spread[0] = max(comp[0], comp[1])
    for k in range(1, n - 1):
        spread[k] = max(comp[k - 1], max(comp[k], comp[k + 1]))
    spread[n - 1] = max(comp[n - 2], comp[n - 1])

    # 1. harmonic summation with half-harmonic penalty
    best = -np.inf
    best_f = 0.0
    last = n - 1
    for c in range(cand.shape[0]):
        f = cand[c]
        s = 0.0
        for i in range(weights.shape[0]):
            x = (i + 1) * f
            if x > score_top and i > 0:
                break
            s += weights[i] * (_interp(spread, x, last) - _interp(comp, x - 0.5 * f, last))
        if s > best:
            best = s
            best_f = f
    if best_f <= 0.0:
        return result

    # 2. refinement from interpolated harmonic peaks
    f0 = best_f
    floor = peak * 1e-4          # -80 dB: ignore peaks below
    harm_energy = 0.0
    for it in range(3):
        tol = 0.25 if it > 0 else max(1.0, 0.3 * f0)
        radius = max(1.0, 0.3 * f0)
        swh = 0.0
        swhh = 0.0
        harm_energy = 0.0
        if it == 0:
            # the grid f0 acts as a prior observation as heavy as a -40 dB
            # harmonic, so weak (noise) peaks cannot drag the tracking away
            w0 = (1e-2 * peak) ** 2
            swh = w0 * f0
            swhh = w0
        h = 1
        while h < n:  # bounded: a degenerate fit (f0 -> 0) must not loop for ever
            if it == 0:
                f0 = swh / swhh     # pass 0 tracks: predict h from the fit so far
            if not f0 >= 0.5:       # under half a bin: no harmonic series (flat frame)
                return result
            c = h * f0
            if c > n - 3:
                break
            lo = int(math.ceil(c - radius))
            hi = int(math.floor(c + radius))
            if lo < 1:
                lo = 1
            if hi > n - 2:
                hi = n - 2
            p = lo
            for k in range(lo + 1, hi + 1):
                if mag[k] > mag[p]:
                    p = k
            m0 = float(mag[p])
            ml = float(mag[p - 1])
            mr = float(mag[p + 1])
            if m0 > floor and m0 >= ml and m0 >= mr:
                fh = p + _hann_offset(ml, m0, mr)
                if abs(fh - c) <= tol:
                    w = m0 * m0
                    swh += w * h * fh
                    swhh += w * h * h
                    e = ml * ml + m0 * m0 + mr * mr
                    if p >= 2:
                        e += float(mag[p - 2]) ** 2
                    if p + 2 < n:
                        e += float(mag[p + 2]) ** 2
                    harm_energy += e
            h += 1
        if swhh <= 0.0:
            return result
        f0 = swh / swhh
    result[0] = f0
    result[1] = min(1.0, harm_energy / energy)
    return result


@njit(cache=True, nogil=True, inline="always")
def _hann_offset(ml, m0, mr):
    """Offset (bins, -0.5..0.5) of a Hann-windowed sinusoid's peak from its max bin.

    For one complex sinusoid under a Hann window ``d`` bins right of a bin,
    the neighbours are ``m0 (1+d)/(2-d)`` and ``m0 (1-d)/(2+d)``, so
    ``q = (mr - ml) / m0 = 6 d / (4 - d**2)``, solved exactly for ``d``.
    """
    if m0 <= 0.0:
        return 0.0
    q = (mr - ml) / m0
    return 4.0 * q / (3.0 + math.sqrt(9.0 + 4.0 * q * q))


@njit(cache=True, nogil=True)
def _shift_partials(mag, ratio, f0_bins, peaks, bounds, centres, shifts, written, out):
    n = mag.shape[0]
    # peaks: strict local maxima (plateaus count once, at their left end)
    npk = 0
    for m in range(n):
        left = mag[m - 1] if m > 0 else -1.0
        right = mag[m + 1] if m + 1 < n else -1.0
        if mag[m] > left and mag[m] >= right and mag[m] > 0.0:
            peaks[npk] = m
            npk += 1
    for k in range(n):
        out[k] = 0.0
        written[k] = False
    if npk == 0:
        return
    # region boundaries: the lowest bin between neighbouring peaks
    bounds[0] = 0
    for i in range(1, npk):
        lo = peaks[i - 1]
        for m in range(peaks[i - 1] + 1, peaks[i]):
            if mag[m] < mag[lo]:
                lo = m
        bounds[i] = lo
    bounds[npk] = n
    last = n - 1
    for i in range(npk):
        # shift by the partial's true (fractional) frequency, not its peak bin:
        # with the bin, harmonic h would land up to 0.5 * (ratio - 1) bins off
        p = peaks[i]
        centre = float(p)
        if 0 < p < n - 1:
            centre += _hann_offset(mag[p - 1], mag[p], mag[p + 1])
        anchor = centre
        if f0_bins > 0.0:
            h = math.floor(centre / f0_bins + 0.5)
            if h >= 1 and abs(centre - h * f0_bins) <= 0.25 * f0_bins:
                anchor = h * f0_bins  # move the harmonic series as one
        shifts[i] = anchor * (ratio - 1.0)
        # where the peak itself lands; a side peak near a harmonic moves with it and
        # keeps its own place (ownership below must not see two peaks at one spot)
        centres[i] = centre + shifts[i]
    for i in range(npk):
        shift = shifts[i]
        a, b = bounds[i], bounds[i + 1]
        lo, hi = a + shift, b + shift
        # each output bin belongs to its nearest moved peak: when partials move
        # closer (ratio < 1) a wide region must not spill over its neighbour's peak
        if i > 0:
            lo = max(lo, 0.5 * (centres[i - 1] + centres[i]))
        if i + 1 < npk:
            hi = min(hi, 0.5 * (centres[i] + centres[i + 1]))
        k0 = max(0, int(math.ceil(lo)))
        k1 = min(n, int(math.ceil(hi)))
        for k in range(k0, k1):
            x = k - shift
            if x < 0.0:
                continue
            v = _interp(mag, x, last)
            if not written[k] or v > out[k]:
                out[k] = v
                written[k] = True
    # gaps between regions that moved apart: linear between the written edges
    prev = -1
    for k in range(n):
        if written[k]:
            if prev >= 0 and k - prev > 1:
                for j in range(prev + 1, k):
                    t = (j - prev) / (k - prev)
                    out[j] = out[prev] + t * (out[k] - out[prev])
            prev = k
