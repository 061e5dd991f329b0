"""Baseline phase builders, for comparison with RTPGHI only.

* :class:`ThesisPhase` re-expresses the phase code of the thesis (appendix A.2,
  ``do_rtpghi_gaussian_window``) frame by frame: phase integrated along time
  only, from the frequency slope of log magnitude with the thesis' constants,
  and combined with the magnitude without the ``(-1)**m`` factor that the
  frame-start FFT convention needs.
* :class:`RandomPhase`: an independent uniform random phase per bin and frame.

Both share RTPGHI's interface: ``process(mag, out=None)``, ``reset()``,
``flush()`` and ``latency_frames``.
"""

import numpy as np

from ..errors import InputError
from .stft import check_geometry

__all__ = ["ThesisPhase", "RandomPhase"]


class _FrameMethod:
    latency_frames = 0

    def __init__(self, n_fft, hop):
        check_geometry(n_fft, hop)
        self.n_fft, self.hop = int(n_fft), int(hop)
        self.n_bins = self.n_fft // 2 + 1

    def _prepare(self, mag, out):
        mag = np.asarray(mag, dtype=np.float64)
        if mag.shape != (self.n_bins,):
            raise InputError(
                f"mag.shape={mag.shape}: {type(self).__name__}(n_fft={self.n_fft}) expects one "
                f"magnitude frame of {self.n_bins} bins")
        if not np.all(np.isfinite(mag)):
            raise InputError("mag contains NaN or Inf: expected finite magnitudes")
        if out is None:
            out = np.empty(self.n_bins, dtype=np.complex128)
        return mag, out

    def flush(self, out=None):
        """Nothing is held back: return a zero frame."""
        out = np.zeros(self.n_bins, dtype=np.complex128) if out is None else out
        out[:] = 0.0
        return out


class ThesisPhase(_FrameMethod):
    """The thesis' time-only phase integration (appendix A.2), streamed.

    Parameters
    ----------
    n_fft, hop : int
    relative_clip : float
        The thesis clipped magnitudes at 1e-3 on frames scaled to a peak of
        about 50, i.e. 2e-5 of the peak; applied here relative to each frame's
        peak so the baseline does not depend on the input's scale.
    """

    def __init__(self, n_fft, hop, relative_clip=2e-5):
        super().__init__(n_fft, hop)
        m_freqs = self.n_bins
        # the thesis' constants, verbatim (Gaussian window with 1 % edge height)
        relative_height = 0.01
        freq_time_ratio = -1 * (np.pi / 4) * (self.n_fft ** 2 / np.log(relative_height))
        self._scale = (self.hop * m_freqs) / (-2 * freq_time_ratio)
        self._ramp = np.pi * self.hop * np.arange(m_freqs) / m_freqs
        self._clip = float(relative_clip)
        self._log = np.zeros(m_freqs)
        self._der = np.zeros(m_freqs)
        self._der_prev = np.zeros(m_freqs)
        self._phase = np.zeros(m_freqs)
        self.reset()

    def reset(self):
        """Start again from phase 0."""
        self._der_prev[:] = 0.0
        self._phase[:] = 0.0
        self._first = True

    def process(self, mag, out=None):
        """Return ``mag * exp(1j * phase)`` for the next frame."""
        mag, out = self._prepare(mag, out)
        peak = mag.max()
        np.log(np.maximum(mag, self._clip * peak if peak > 0 else 1e-300), out=self._log)
        der = self._der
        der[:] = 0.0
        der[1:-1] = self._scale * (self._log[2:] - self._log[:-2]) + self._ramp[1:-1]
        if not self._first:
            self._phase += 0.5 * (self._der_prev + der)
            np.mod(self._phase, 2 * np.pi, out=self._phase)
        self._first = False
        self._der_prev[:] = der
        np.exp(1j * self._phase, out=out)
        out *= mag
        return out


class RandomPhase(_FrameMethod):
    """Uniform random phase per bin and frame (the floor any method must beat)."""

    def __init__(self, n_fft, hop, seed=0):
        super().__init__(n_fft, hop)
        self.seed = int(seed)
        self.reset()

    def reset(self):
        """Restart the random sequence."""
        self._rng = np.random.default_rng(self.seed)

    def process(self, mag, out=None):
        """Return ``mag * exp(1j * random phase)``."""
        mag, out = self._prepare(mag, out)
        np.exp(1j * self._rng.uniform(0, 2 * np.pi, self.n_bins), out=out)
        out *= mag
        return out
