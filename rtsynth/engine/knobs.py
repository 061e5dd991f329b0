"""ANNe's knobs a-e: gains on five adjacent sub-vectors of the latent (thesis 3.5.4)."""

import numpy as np

from ..errors import InputError

__all__ = ["knob_sizes", "KNOB_PRESETS", "GAIN_RANGE", "N_KNOBS"]

#: knob gain range (thesis 3.5.4)
GAIN_RANGE = (0.5, 5.5)
#: sub-vector size presets (thesis presets 1-3; 'custom' takes user sizes)
KNOB_PRESETS = ("equal", "log-up", "log-down", "custom")
N_KNOBS = 5


def knob_sizes(latent_dim, preset="equal", sizes=None, source=None):
    """Sizes of the five adjacent latent sub-vectors a-e.

    'equal': as equal as possible; 'log-up': growing geometrically (ratio 2,
    i.e. evenly on a log scale) from a to e; 'log-down': the reverse;
    'custom': ``sizes`` (five ints >= 1 summing to ``latent_dim``).
    ``source`` (the manifest path) is named in errors about the latent size.

    Returns
    -------
    tuple of 5 int
    """
    if preset not in KNOB_PRESETS:
        raise InputError(f"preset={preset!r}: expected one of {', '.join(KNOB_PRESETS)}")
    if preset == "custom":
        sizes = tuple(int(s) for s in (sizes or ()))
        if len(sizes) != N_KNOBS or min(sizes) < 1 or sum(sizes) != latent_dim:
            raise InputError(f"sizes={list(sizes)!r}: expected {N_KNOBS} sub-vector sizes >= 1 "
                             f"summing to latent_dim={latent_dim}{_of(source)}, found "
                             f"{len(sizes)} sizes summing to {sum(sizes)}")
        return sizes
    if latent_dim < N_KNOBS:
        raise InputError(f"preset={preset!r}: expected a latent of at least {N_KNOBS} neurons "
                         f"for {N_KNOBS} knobs, found latent_dim={latent_dim}{_of(source)}")
    weights = np.ones(N_KNOBS) if preset == "equal" else 2.0 ** np.arange(N_KNOBS)
    if preset == "log-down":
        weights = weights[::-1]
    # largest remainder on top of one neuron each, so every knob has a neuron
    share = weights / weights.sum() * (latent_dim - N_KNOBS)
    base = np.floor(share).astype(int)
    for i in np.argsort(base - share)[: latent_dim - N_KNOBS - base.sum()]:
        base[i] += 1
    return tuple(int(b) + 1 for b in base)


def _of(source):
    return f" ({source})" if source else ""
