"""rtsynth.dsp: streaming STFT, overlap-add, phase reconstruction (numpy/scipy/numba only)."""

from .analysis import StreamingSTFT
from .features import FEATURE_KINDS, frame_features, n_features
from .baselines import RandomPhase, ThesisPhase
from .metrics import spectral_convergence
from .overlap_add import OverlapAdd
from .processor import StftProcessor
from .rtpghi import RTPGHI
from .stft import first_frame, istft, n_frames, stft
from .windows import HANN_GAMMA, gaussian_gamma, hann

__all__ = [
    "StreamingSTFT", "OverlapAdd", "StftProcessor", "stft", "istft", "first_frame", "n_frames",
    "RTPGHI", "ThesisPhase", "RandomPhase", "spectral_convergence",
    "hann", "HANN_GAMMA", "gaussian_gamma", "PHASE_METHODS",
    "FEATURE_KINDS", "frame_features", "n_features",
]

#: Streaming phase builders by name, for command-line choices and benchmarks.
PHASE_METHODS = {
    "rtpghi": lambda n_fft, hop, **kw: RTPGHI(n_fft, hop, lookahead=0, **kw),
    "rtpghi1": lambda n_fft, hop, **kw: RTPGHI(n_fft, hop, lookahead=1, **kw),
    "thesis": ThesisPhase,
    "random": RandomPhase,
}
