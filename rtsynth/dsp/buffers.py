"""Small allocation-free buffer kernels shared by the streaming classes."""

from numba import njit

__all__ = ["move_to_front"]


@njit(cache=True, nogil=True)
def move_to_front(buf, start, stop):
    """Move ``buf[start:stop]`` to ``buf[0:stop-start]`` in place; return the new length.

    A forward copy is safe for an overlapping move towards index 0, and unlike
    numpy slice assignment it never makes a temporary copy.
    """
    n = stop - start
    for i in range(n):
        buf[i] = buf[start + i]
    return n
