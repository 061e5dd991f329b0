"""Small helpers the host modules share for writing files and reporting errors."""

import os

__all__ = ["one_line", "current_umask"]


def one_line(exc):
    """An exception's message squeezed onto one line (for one-sentence errors)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def current_umask():
    """The process umask (read by setting it, then putting it back).

    Temporary files from ``mkstemp`` are owner-only; giving the final file
    ``0o666 & ~umask`` makes it look like any other file the user writes.
    """
    mask = os.umask(0)
    os.umask(mask)
    return mask
