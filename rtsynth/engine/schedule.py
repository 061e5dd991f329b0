"""Driving an engine with timed commands: the one loop live and offline share."""

__all__ = ["render_with_events"]


def render_with_events(engine, out, events, start=0, block=None):
    """Render ``out`` while applying timed commands at their exact sample.

    Parameters
    ----------
    engine : object
        Anything with ``process(out)`` and ``apply(command)``.
    out : ndarray, shape (n,)
        Output samples, written in place.
    events : sequence of (int, tuple)
        ``(sample offset within out, command)``, sorted by offset. Offsets
        below 0 apply at the start; offsets ``>= n`` are left for the next
        call (pass the returned index as ``start`` and shift their offsets).
    start : int
        Index of the first event to consider (events before it were applied).
    block : int, optional
        Largest chunk handed to ``engine.process`` (default: ``engine.max_block``).

    Returns
    -------
    int
        Index of the first event not yet applied (``len(events)`` when all were).
    """
    n = out.shape[0]
    block = block or engine.max_block
    pos, i = 0, start
    while pos < n:
        while i < len(events) and events[i][0] <= pos:
            engine.apply(events[i][1])
            i += 1
        stop = min(n, pos + block)
        if i < len(events) and events[i][0] < stop:
            stop = events[i][0]
        engine.process(out[pos:stop])
        pos = stop
    return i
