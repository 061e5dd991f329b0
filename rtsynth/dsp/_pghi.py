"""Numba kernels of RTPGHI: phase gradients and heap integration of one frame.

Conventions (Průša & Søndergaard, DAFx 2016; Průša, Balazs & Søndergaard,
TASLP 2017): with ``a`` the hop, ``M`` the FFT length, ``s = log|c|`` and
gamma the Gaussian width constant of the window,

* time-direction derivative (phase advance per hop) of frame n, bin m::

      tgrad = a*M/(2*gamma) * (s[n, m+1] - s[n, m-1]) + 2*pi*a*m/M

* frequency-direction derivative (phase change per bin)::

      fgrad = -gamma/(2*a*M) * (s[n+1, m] - s[n-1, m])                  (lookahead 1)
      fgrad = -gamma/(2*a*M) * (3*s[n, m] - 4*s[n-1, m] + s[n-2, m])   (causal)

in the *time-invariant* phase convention with the window centred on the frame
time. librosa/numpy frames put FFT index 0 at the frame start, which
multiplies bin m by ``(-1)**m``; the kernel applies that factor on output.

Robustness additions over the published algorithm (each measured in
benchmarks/phase_reconstruction.py):

* log magnitudes entering a derivative are floored at the tolerance level of
  the frames involved, so exact zeros (Hann nulls, digital silence) do not
  produce unbounded gradients;
* the frequency-direction derivative is clipped to [-pi, pi] per bin, the
  range of group delays a window of length M can hold; the time-direction
  deviation from the bin frequency is clipped to the Hann main lobe (2 bins);
* the DC and Nyquist coefficients of a real signal are real, so their phase is
  rounded to 0 or pi after integration; this is what keeps DC offset and
  sub-bass rumble (whose negative-frequency image overlaps bins 0..2) right;
* a region whose previous frame was under tolerance (an onset) is seeded from
  its largest bin by time integration of the previous phase, then spreads
  through the heap as usual.
"""

import math

import numpy as np
from numba import njit

from ._buckets import QUANTUM, bq_clear, bq_pop, bq_push

__all__ = ["pghi_step", "steady_frames", "count_bad", "LOG_FLOOR"]

#: log of the smallest magnitude that counts as non-zero
LOG_FLOOR = math.log(1e-300)
_TWO_PI = 2.0 * math.pi
# Hann main-lobe half width in bins: the farthest a component can sit from a
# bin and still dominate it
_MAX_BIN_DEVIATION = 2.0


@njit(cache=True, nogil=True)
def pghi_step(mag, mags, slogs, smaxes, ends, tgrads, phase, fgrad, done, heads, groups,
              links, qstate, rng, state, params, out):
    """Take one magnitude frame, write one frame of complex coefficients.

    Parameters
    ----------
    mag : float64 (M2,)
        The new magnitude frame n.
    mags : float64 (2, M2)
        Ring of the last two magnitude frames (state).
    slogs, tgrads : float64 (3, M2)
        Rings of the last three log-magnitude and tgrad frames (state).
    smaxes : float64 (3,)
        Ring of those frames' largest log magnitudes (state).
    ends : int64 (3,)
        Ring of those frames' last non-zero bin + 1 (state): above the last
        of the three nothing is integrated, so a band-limited frame (a low
        note's) costs only its band.
    phase : float64 (M2,)
        Phase of the previous output frame on entry, of this one on exit.
    fgrad : float64 (M2,)
        Scratch.
    done : int8 (M2,)
        Scratch.
    heads, groups, qstate : int64 (2, ...), links : int64 (3*M2,)
        Scratch: two bucket queues (``_buckets.new_queues``), the integration's and
        the seeds' (bins of this frame whose previous frame was under tolerance).
    rng : uint64 (1,)
        xorshift64* state for the random phase of bins under tolerance.
    state : int64 (2,)
        ``[frames seen, ring head]``.
    params : float64 (5,)
        ``[hop, n_fft, gamma, log(tol), lookahead]``.
    out : complex128 (M2,)
        Output frame: frame n (lookahead 0) or n-1 (lookahead 1).

    Returns
    -------
    int
        Number of non-finite or negative magnitudes that were replaced by 0.
    """
    m2 = mag.shape[0]
    a, n_fft, gamma, logtol = params[0], params[1], params[2], params[3]
    lookahead = int(params[4])
    head = (state[1] + 1) % 3
    state[1] = head
    h1 = (head + 2) % 3  # frame n-1
    h2 = (head + 1) % 3  # frame n-2
    state[0] += 1

    # --- store frame n: magnitude, log magnitude -------------------------
    cur_mag = mags[state[0] % 2]
    bad = _store(mag, cur_mag)
    slog = slogs[head]
    smax, end = _log_frame(cur_mag, slog)
    smaxes[head] = smax
    ends[head] = end
    # bins at or above `band` are zero in all three frames: no gradient, no phase
    band = max(end, max(ends[h1], ends[h2]))

    # --- tgrad of frame n (frequency difference of its own log magnitude) --
    floor = max(smax + logtol, LOG_FLOOR)
    tmul = a * n_fft / (2.0 * gamma)
    tplus = _TWO_PI * a / n_fft
    dev_max = _MAX_BIN_DEVIATION * tplus
    tg = tgrads[head]
    tg[0] = 0.0
    tg[m2 - 1] = 0.0
    prev = max(slog[0], floor)
    here = max(slog[1], floor)
    # past end + 1 both neighbours are at the floor: those tgrads are never read
    for m in range(1, min(end + 1, m2 - 1)):
        nxt = max(slog[m + 1], floor)
        dev = tmul * (nxt - prev)
        if dev > dev_max:
            dev = dev_max
        elif dev < -dev_max:
            dev = -dev_max
        tg[m] = dev + tplus * m
        prev = here
        here = nxt

    # --- the frame to output, t, and its fgrad ------------------------------
    if lookahead == 0:
        t, tp = head, h1
    else:
        t, tp = h1, h2
    f_max = max(smax, max(smaxes[h1], smaxes[h2]))
    ffloor = max(f_max + logtol, LOG_FLOOR)
    fmul = -gamma / (2.0 * a * n_fft)
    s0, s1, s2 = slogs[h2], slogs[h1], slogs[head]
    for m in range(band):
        if lookahead == 0:
            d = 3.0 * max(s2[m], ffloor) - 4.0 * max(s1[m], ffloor) + max(s0[m], ffloor)
        else:
            d = max(s2[m], ffloor) - max(s0[m], ffloor)
        g = fmul * d
        if g > math.pi:
            g = math.pi
        elif g < -math.pi:
            g = -math.pi
        fgrad[m] = g

    # --- heap integration ---------------------------------------------------
    st, stp = slogs[t], slogs[tp]
    tgt, tgp = tgrads[t], tgrads[tp]
    thr = max(max(smaxes[t], smaxes[tp]) + logtol, LOG_FLOOR)
    inv_q = 1.0 / QUANTUM
    heap, hgroups, hstate = heads[0], groups[0], qstate[0]
    seeds, sgroups, sstate = heads[1], groups[1], qstate[1]
    bq_clear(heap, hgroups, hstate)
    bq_clear(seeds, sgroups, sstate)
    todo = 0
    if band < m2:
        done[band] = -1  # the right neighbour of the band's last bin
    for m in range(band):
        if st[m] > thr:
            done[m] = 0
            todo += 1
            # the bin's phase integrated along time, ready in case the heap takes that
            # path (else it is overwritten): read here in order, the previous phase and
            # tgrads are prefetched instead of missing the cache in the heap's random
            # order, which dominated the cost with 32 voices' state out of cache
            phase[m] = phase[m] + 0.5 * (tgp[m] + tgt[m])
            links[m2 + m] = -1
            if stp[m] > thr:
                bq_push(heap, hgroups, links, hstate, int((stp[m] - thr) * inv_q), m)
            else:
                # no anchor in the previous frame: a seed candidate, largest first,
                # so an onset of many separate partials costs no scan per partial
                bq_push(seeds, sgroups, links, sstate, int((st[m] - thr) * inv_q), 2 * m2 + m)
        else:
            done[m] = -1
    # a coefficient pushed at or above the top bucket would be the very next pop (the
    # queue is LIFO within a bucket), so it skips the queue: in a steady spectrum that
    # is every time-integrated bin, a quarter of the queue traffic
    nxt = -1
    while todo > 0:
        if nxt >= 0:
            item = nxt
            nxt = -1
        elif hstate[0] == 0:
            # no anchor left: seed the largest remaining bin along time (every bin with
            # an anchor is done by now, so it is among the seed candidates)
            best = bq_pop(seeds, sgroups, links, sstate) - 2 * m2
            while done[best] != 0:
                best = bq_pop(seeds, sgroups, links, sstate) - 2 * m2
            done[best] = 1  # its phase is the time-integrated one
            todo -= 1
            nxt = best + m2
            continue
        else:
            item = bq_pop(heap, hgroups, links, hstate)
        if item < m2:
            # previous frame: integrate along time into the same bin
            m = item
            if done[m] == 0:
                done[m] = 1  # its phase is the time-integrated one
                todo -= 1
                b = int((st[m] - thr) * inv_q)
                if b >= hstate[1]:
                    nxt = m + m2
                else:
                    bq_push(heap, hgroups, links, hstate, b, m + m2)
        else:
            # this frame: integrate along frequency to both neighbours
            m = item - m2
            if m + 1 < m2 and done[m + 1] == 0:
                phase[m + 1] = phase[m] + 0.5 * (fgrad[m] + fgrad[m + 1])
                done[m + 1] = 1
                todo -= 1
                bq_push(heap, hgroups, links, hstate, int((st[m + 1] - thr) * inv_q), m + 1 + m2)
            if m >= 1 and done[m - 1] == 0:
                phase[m - 1] = phase[m] - 0.5 * (fgrad[m] + fgrad[m - 1])
                done[m - 1] = 1
                todo -= 1
                bq_push(heap, hgroups, links, hstate, int((st[m - 1] - thr) * inv_q), m - 1 + m2)

    # --- under tolerance: random phase; DC/Nyquist real; wrap; combine ------
    out_mag = mags[state[0] % 2] if lookahead == 0 else mags[(state[0] + 1) % 2]
    for m in range(band):
        if out_mag[m] == 0.0 and done[m] < 0:
            # silent bin: its phase is never read (integration starts only from bins
            # over tolerance), so it costs no random draw and no cos/sin below
            continue
        p = phase[m]
        if done[m] < 0:
            p = _TWO_PI * _uniform(rng)
        p -= _TWO_PI * math.floor(p / _TWO_PI + 0.5)
        phase[m] = p
    for m in (0, m2 - 1):
        phase[m] = 0.0 if abs(phase[m]) < 0.5 * math.pi else math.pi
    _combine(out_mag, phase, band, out)
    return bad


@njit(cache=True, nogil=True, fastmath=True)
def _combine(mag, phase, band, out):
    # sin/cos of the half angle by Taylor polynomials (|x| <= pi/2 since the phase is
    # wrapped; error < 1e-9), then the double-angle formulas: branch-free, so the loop
    # vectorises (3x faster than libm's cos/sin even in float32)
    o = out.view(np.float64)
    for m in range(band):
        r = mag[m] * _sign(m)
        h = 0.5 * phase[m]
        q = h * h
        sn = h * (1.0 + q * (-1.0 / 6.0 + q * (1.0 / 120.0 + q * (-1.0 / 5040.0 + q * (
            1.0 / 362880.0 + q * (-1.0 / 39916800.0 + q * (1.0 / 6227020800.0)))))))
        cs = 1.0 + q * (-0.5 + q * (1.0 / 24.0 + q * (-1.0 / 720.0 + q * (1.0 / 40320.0 + q * (
            -1.0 / 3628800.0 + q * (1.0 / 479001600.0 + q * (-1.0 / 87178291200.0)))))))
        o[2 * m] = r * (cs * cs - sn * sn)
        o[2 * m + 1] = r * (2.0 * sn * cs)
    for m in range(2 * band, o.shape[0]):
        o[m] = 0.0


@njit(cache=True, nogil=True)
def _store(mag, cur):
    # copy, replacing NaN, infinite and negative values by 0; returns how many
    # (no fastmath here: it would assume the NaN and infinity away)
    bad = 0
    for m in range(mag.shape[0]):
        v = mag[m]
        ok = v >= 0.0 and v < np.inf
        bad += 0 if ok else 1
        cur[m] = v if ok else 0.0
    return bad


@njit(cache=True, nogil=True, fastmath=True)
def _log_frame(cur, slog):
    """``slog = log(cur)`` (LOG_FLOOR where cur <= 1e-300); returns (max log, last non-zero + 1).

    The log runs in float32 on the frame scaled to its maximum (vectorised, 6x
    faster than float64 log): values more than 1e-37 below the frame's maximum
    are far under any tolerance and count as silence; the error (< 1e-5 nats)
    moves a phase gradient by < 1e-5 rad.
    """
    m2 = cur.shape[0]
    end = m2
    while end > 0 and not cur[end - 1] > 1e-300:
        end -= 1
    if end == 0:
        slog[:] = LOG_FLOOR
        return LOG_FLOOR, 0
    vmax = 0.0
    for m in range(end):
        vmax = max(vmax, cur[m])
    top = math.log(vmax)
    scale = 1.0 / vmax
    tiny = np.float32(1e-37)
    for m in range(end):
        w = np.float32(cur[m] * scale)
        slog[m] = (np.float64(math.log(max(w, tiny))) + top) if (w > tiny and cur[m] > 1e-300) else LOG_FLOOR
    for m in range(end, m2):
        slog[m] = LOG_FLOOR
    return top, end


@njit(cache=True, nogil=True)
def steady_frames(phase0, phase1, mag, out):
    """Continue a steady spectrum: frame j gets ``phase0 + (j+1)*(phase1 - phase0)``.

    With an unchanging magnitude the heap takes the same path every frame, so
    each bin's phase advances by the same amount per frame; extrapolating it
    costs no heap work, and a complex rotation per frame replaces cos/sin
    (k frames of 2049 bins in well under 100 µs). ``out`` is (k, M2)
    complex; returns the last phase in ``phase1``.
    """
    k = out.shape[0]
    m2 = mag.shape[0]
    for m in range(m2):
        step = phase1[m] - phase0[m]
        r = mag[m] * _sign(m)
        rot = complex(math.cos(step), math.sin(step))
        c = complex(r * math.cos(phase0[m]), r * math.sin(phase0[m]))
        for j in range(k):
            c *= rot
            out[j, m] = c
        p = phase0[m] + k * step
        phase1[m] = p - _TWO_PI * math.floor(p / _TWO_PI + 0.5)
    return phase1


@njit(cache=True, nogil=True)
def count_bad(mag):
    """Number of NaN, infinite or negative values in ``mag``."""
    bad = 0
    for v in mag:
        if not (v >= 0.0 and v < np.inf):
            bad += 1
    return bad


@njit(cache=True, nogil=True, inline="always")
def _sign(m):
    # (-1)**m: FFT index 0 at the frame start (see the module notes); computed, not
    # read from a table, so the combine loop fetches one array less per voice
    return 1.0 - 2.0 * (m & 1)


@njit(cache=True, nogil=True, inline="always")
def _uniform(rng):
    # xorshift64*: tiny, allocation-free, reproducible per instance
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return float((x * np.uint64(2685821657736338717)) >> np.uint64(11)) / 9007199254740992.0
