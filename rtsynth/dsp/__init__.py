"""rtsynth.dsp: streaming STFT, overlap-add, phase reconstruction (numpy/scipy/numba only)."""

from .analysis import StreamingSTFT
from .features import FEATURE_KINDS, frame_features, n_features
from .baselines import RandomPhase, ThesisPhase
from .harmonics import HarmonicPlacer
from .metrics import spectral_convergence
from .overlap_add import OverlapAdd
from .processor import StftProcessor
from .rtpghi import RTPGHI
from .spectral import (F0Estimator, PartialShifter, bin_ratio, estimate_f0, hz_to_midi, midi_to_hz,
                       rescale_frequency, roll_bins)
from .stft import first_frame, istft, n_frames, stft
from .windows import HANN_GAMMA, gaussian_gamma, hann

__all__ = [
    "StreamingSTFT", "OverlapAdd", "StftProcessor", "stft", "istft", "first_frame", "n_frames",
    "PartialShifter", "HarmonicPlacer", "RTPGHI", "ThesisPhase", "RandomPhase", "spectral_convergence",
    "hann", "HANN_GAMMA", "gaussian_gamma", "PHASE_METHODS",
    "FEATURE_KINDS", "frame_features", "n_features",
    "roll_bins", "rescale_frequency", "bin_ratio", "F0Estimator", "estimate_f0",
    "midi_to_hz", "hz_to_midi",
]

#: Streaming phase builders by name, for command-line choices and benchmarks.
PHASE_METHODS = {
    "rtpghi": lambda n_fft, hop, **kw: RTPGHI(n_fft, hop, lookahead=0, **kw),
    "rtpghi1": lambda n_fft, hop, **kw: RTPGHI(n_fft, hop, lookahead=1, **kw),
    "thesis": ThesisPhase,
    "random": RandomPhase,
}
