"""The bucket queue behind RTPGHI's heap: highest bucket first, LIFO within one."""

import numpy as np
from numba import njit

from rtsynth.dsp._buckets import GROUP, bq_clear, bq_pop, bq_push, n_buckets, new_queues


@njit(cache=False)
def _run(heads, groups, links, qstate, buckets, n_pop, out):
    bq_clear(heads, groups, qstate)
    for i in range(buckets.shape[0]):
        bq_push(heads, groups, links, qstate, buckets[i], i)
    for k in range(n_pop):
        out[k] = bq_pop(heads, groups, links, qstate)
    return qstate[0]


def _reference(buckets, n_pop):
    # stable order: highest bucket first, the last pushed first within a bucket
    order = sorted(range(len(buckets)), key=lambda i: (-buckets[i], -i))
    return order[:n_pop]


def test_pop_order_and_reuse_after_clear(rng):
    heads, groups, qstate = new_queues(1, np.log(1e-5))
    nb = heads.shape[1]
    assert nb == n_buckets(np.log(1e-5)) and groups.shape[1] * GROUP >= nb
    links = np.zeros(4000, dtype=np.int64)
    for trial in range(5):
        # sparse, far-apart buckets (whole empty groups to skip) and crowded ones
        buckets = np.concatenate([rng.integers(0, nb, 300), rng.integers(100, 104, 300)])
        n_pop = [600, 250, 0, 600, 1][trial]
        out = np.zeros(600, dtype=np.int64)
        left = _run(heads[0], groups[0], links, qstate[0], buckets, n_pop, out)
        assert list(out[:n_pop]) == _reference(list(buckets), n_pop)
        assert left == 600 - n_pop
        assert groups[0].sum() == left  # the group counts track what is queued
