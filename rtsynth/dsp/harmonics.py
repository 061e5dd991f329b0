"""Re-place a harmonic frame's partials on an exact harmonic series at a new pitch.

CANNe's ``pitch`` mode must make every voice sound its note with harmonics
that stay harmonic. Moving the decoded partials (:class:`PartialShifter`)
keeps whatever the decoder drew: lobes wider or narrower than a window's,
side peaks, and a fundamental a few cents off the series. Shifted down by two
octaves those regions overlap, get cut and leave zero gaps, and phase
reconstruction then renders partials a semitone off (measured at C2 on the
shipped model). Here the frame is read once per decoded spectrum as

* a harmonic series: the amplitude ``A_h`` of each harmonic ``h * f0`` (the
  energy of the lobe found within a quarter of f0 of it, above the floor),
* a floor: the lower envelope of the frame (a running minimum over one f0),
  which carries its noise,

and every voice then *renders* its frame: the floor stretched by the ratio,
and for each harmonic a fresh Hann main lobe of height ``A_h`` centred
exactly on ``h * f0 * ratio``. The lobe shape is what an STFT with the
synthesis window gives a steady sinusoid, so RTPGHI turns it into that
sinusoid at that frequency: the note is in tune by construction, at any
ratio, and the decoded spectral envelope is kept (harmonic ``h`` keeps its
amplitude, as a frequency-axis rescaling would).

Both steps run in numba ``nogil`` kernels over preallocated arrays:
:meth:`HarmonicPlacer.analyze` once per decoded frame (shared by all
voices), :meth:`HarmonicPlacer.render` per voice.
"""

import math

import numpy as np
from numba import njit

from ..errors import InputError

__all__ = ["HarmonicPlacer", "hann_lobe"]

#: Hann main lobe half width (bins): its first zeros sit at +-2 bins
LOBE_HALF_WIDTH = 2.0
#: energy of a unit-height Hann main lobe sampled at integer offsets (any offset)
LOBE_ENERGY = 1.5
#: a harmonic whose lobe does not rise this far above the floor is not there
MIN_PEAK_OVER_FLOOR = 2.0  # 6 dB


class HarmonicPlacer:
    """Harmonic series and floor of a frame, rendered at any pitch ratio.

    Parameters
    ----------
    n_bins : int
        Frame length (``n_fft // 2 + 1``) of the analysed and the rendered
        frames (the same synthesis n_fft; a sample-rate change goes into the
        ratio, see :func:`rtsynth.dsp.bin_ratio`).

    Attributes
    ----------
    n_harmonics : int
        Harmonics found by the last :meth:`analyze` (0 = render the floor only).
    f0_bins : float
        Fundamental of the last analysed frame, in its bins.
    """

    def __init__(self, n_bins):
        self.n_bins = int(n_bins)
        if self.n_bins < 8:
            raise InputError(f"n_bins={n_bins!r}: expected a frame of at least 8 bins")
        self._amps = np.zeros(self.n_bins)
        self._floor = np.zeros(self.n_bins)
        self.n_harmonics = 0
        self.f0_bins = 0.0

    def analyze(self, mag, f0_bins):
        """Read the harmonic amplitudes and the floor of ``mag``.

        Parameters
        ----------
        mag : ndarray, shape (n_bins,), float
            Magnitude frame (finite, non-negative).
        f0_bins : float
            Its fundamental in bins (e.g. :class:`F0Estimator`'s Hz times
            ``n_fft / sample_rate``); at least 2 bins, below that the
            harmonics are not resolved and nothing is read.

        Returns
        -------
        int
            Number of harmonics kept.
        """
        if mag.ndim != 1 or mag.shape[0] != self.n_bins:
            raise InputError(f"mag.shape={mag.shape}: expected ({self.n_bins},)")
        f0_bins = float(f0_bins)
        if not (math.isfinite(f0_bins) and f0_bins >= 2.0):
            self._floor[:] = mag
            self.n_harmonics, self.f0_bins = 0, 0.0
            return 0
        self.n_harmonics = int(_analyze(mag, f0_bins, self._amps, self._floor))
        self.f0_bins = f0_bins
        return self.n_harmonics

    def render(self, ratio, out):
        """Write the frame at ``ratio`` times its frequencies into ``out``; return ``out``.

        Parameters
        ----------
        ratio : float
            > 0; output bins per input bin (pitch ratio times any rate correction).
        out : ndarray, shape (n_bins,), float64
        """
        if out.ndim != 1 or out.shape[0] != self.n_bins:
            raise InputError(f"out.shape={out.shape}: expected ({self.n_bins},)")
        if not (ratio > 0 and math.isfinite(ratio)):
            raise InputError(f"ratio={ratio!r}: expected a finite ratio > 0")
        _render(self._amps, self.n_harmonics, self.f0_bins, self._floor, float(ratio), out)
        return out


def hann_lobe(d):
    """Height of a Hann-windowed sinusoid's DFT ``d`` bins from its centre (1 at 0, 0 at +-2).

    ``|sinc(d) / (1 - d**2)|``: the magnitude a periodic Hann window's spectrum
    gives a steady sinusoid, relative to its peak.
    """
    return _lobe(float(d))


@njit(cache=True, nogil=True)
def _lobe(d):
    d = abs(d)
    if d >= LOBE_HALF_WIDTH:
        return 0.0
    if d < 1e-9:
        return 1.0
    if abs(d - 1.0) < 1e-9:
        return 0.5
    x = math.pi * d
    return abs(math.sin(x) / (x * (1.0 - d * d)))


@njit(cache=True, nogil=True)
def _analyze(mag, f0, amps, floor):
    n = mag.shape[0]
    # floor: running minimum over one f0 (every window holds a valley between harmonics)
    w = max(1, int(0.5 * f0))
    for j in range(n):
        lo = mag[j]
        for i in range(max(0, j - w), min(n, j + w + 1)):
            if mag[i] < lo:
                lo = mag[i]
        floor[j] = lo
    count = 0
    h = 1
    reach = min(LOBE_HALF_WIDTH, 0.5 * f0)
    while h * f0 < n - 1:
        c = h * f0
        a = max(0, int(math.ceil(c - 0.25 * f0)))
        b = min(n - 1, int(math.floor(c + 0.25 * f0)))
        p = a
        for i in range(a, b + 1):
            if mag[i] > mag[p]:
                p = i
        amp = 0.0
        if mag[p] > MIN_PEAK_OVER_FLOOR * floor[p]:
            e = 0.0
            lo = max(0, int(math.ceil(p - reach)))
            hi = min(n, int(math.floor(p + reach)) + 1)
            for i in range(lo, hi):
                d = mag[i] * mag[i] - floor[i] * floor[i]
                if d > 0.0:
                    e += d
            amp = math.sqrt(e / LOBE_ENERGY)
        amps[h - 1] = amp
        if amp > 0.0:
            count = h
        h += 1
    return count


@njit(cache=True, nogil=True)
def _render(amps, n_harm, f0, floor, ratio, out):
    n = out.shape[0]
    last = n - 1
    for j in range(n):
        x = j / ratio
        if x >= last:
            out[j] = floor[last] if x == last else 0.0
        else:
            i = int(x)
            t = x - i
            out[j] = floor[i] + t * (floor[i + 1] - floor[i])
    step = f0 * ratio
    for h in range(1, n_harm + 1):
        amp = amps[h - 1]
        c = h * step
        if c >= last:
            break
        if amp <= 0.0:
            continue
        for j in range(max(0, int(math.ceil(c - LOBE_HALF_WIDTH))),
                       min(n, int(math.floor(c + LOBE_HALF_WIDTH)) + 1)):
            v = amp * _lobe(j - c)
            if v > out[j]:
                out[j] = v
