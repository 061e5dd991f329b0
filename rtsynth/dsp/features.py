"""Encoder input features of a magnitude frame (thesis section 4.4).

``mag`` is the frame itself; ``diff1`` appends its first-order difference along
frequency, ``x1[m] = x[m+1] - x[m]``; ``diff2`` the second-order difference
``x2[m] = x1[m+1] - x1[m]``. Each difference is zero-padded at the top so every
block has ``n_bins`` values and ``n_features = n_bins * (1 + number of diffs)``.
Training (export/) and the live effect (engine/) both call :func:`frame_features`
so the two can never disagree.
"""

import numpy as np

from ..errors import InputError

__all__ = ["FEATURE_KINDS", "n_features", "frame_features"]

#: input_features value -> the difference orders appended after the frame
FEATURE_KINDS = {"mag": (), "mag+diff1": (1,), "mag+diff2": (2,), "mag+diff1+diff2": (1, 2)}


def n_features(kind, n_bins):
    """Feature-vector length for ``kind`` and ``n_bins`` bins."""
    return n_bins * (1 + len(_orders(kind)))


def frame_features(mag, kind, out=None):
    """Features of one frame or a batch of frames.

    Parameters
    ----------
    mag : ndarray, shape (..., n_bins)
        Magnitude frame(s), normally already divided by the frame max.
    kind : str
        A key of :data:`FEATURE_KINDS`.
    out : ndarray, shape (..., n_features(kind, n_bins)), optional

    Returns
    -------
    ndarray, shape (..., n_features)
        ``out`` when given.
    """
    orders = _orders(kind)
    mag = np.asarray(mag)
    n = mag.shape[-1]
    shape = mag.shape[:-1] + (n * (1 + len(orders)),)
    if out is None:
        out = np.empty(shape, dtype=mag.dtype if mag.dtype.kind == "f" else np.float64)
    elif out.shape != shape:
        raise InputError(f"out.shape={out.shape}: expected {shape} for input_features={kind!r}")
    out[..., :n] = mag
    for i, order in enumerate(orders):
        block = out[..., n * (i + 1):n * (i + 2)]
        block[..., n - 1] = 0.0
        np.subtract(mag[..., 1:], mag[..., :-1], out=block[..., :n - 1])
        if order == 2:
            # numpy buffers overlapping operands, so this in-place difference is exact
            np.subtract(block[..., 1:n - 1], block[..., :n - 2], out=block[..., :n - 2])
            block[..., n - 2] = 0.0
    return out


def _orders(kind):
    try:
        return FEATURE_KINDS[kind]
    except KeyError:
        raise InputError(
            f"input_features={kind!r}: expected one of {', '.join(FEATURE_KINDS)}") from None
