"""The voice bank's kernels: the same samples as each voice's own envelope and FIFO."""

import numpy as np
import pytest

from rtsynth.engine.bank import VoiceBank, emit, plan
from rtsynth.engine.envelope import ADSR

RATE, HOP = 48000, 64


def _bank_with_voices(rng, n=5, fifo_len=600):
    """``n`` voices at various envelope stages, FIFOs of random samples."""
    bank = VoiceBank(n, fifo_len)
    envs = []
    for s in range(n):
        env = ADSR(RATE, 0.001 * (s + 1), 0.002, 0.5, 0.003 * (s + 1),
                   state=bank.env_state[s], params=bank.env_params[s])
        env.note_on()
        envs.append(env)
    bank.fifo[:] = rng.uniform(-1, 1, bank.fifo.shape)
    bank.pos[:, 1] = fifo_len
    bank.gain[:] = rng.uniform(0.1, 1.0, n)
    return bank, envs


@pytest.mark.parametrize("n", [1, 64, 65, 256])
def test_emit_equals_each_voice_enveloped_and_summed(rng, n):
    bank, envs = _bank_with_voices(rng)
    envs[1].note_off()  # releasing
    envs[3].reset()  # silent: not in `playing`
    k = plan(bank.env_state, bank.pos, bank.fifo, bank.lead, HOP, n, bank.playing, bank.due)
    assert list(bank.playing[:k]) == [0, 1, 2, 4]
    # the reference: each envelope rendered by ADSR on a copy of its state
    want = np.zeros(n)
    for s in bank.playing[:k]:
        copy = ADSR(RATE)  # a silent envelope, then given this voice's state and steps
        copy._state[:], copy._params[:] = bank.env_state[s], bank.env_params[s]
        env = copy.render(np.zeros(n))
        want += bank.fifo[s, :n] * env * bank.gain[s]
    out = np.zeros(n)
    emit(out, bank.playing, k, bank.fifo, bank.pos, bank.env_state, bank.env_params, bank.gain)
    np.testing.assert_array_equal(out, want)
    assert list(bank.pos[bank.playing[:k], 0]) == [n] * k  # each read on by n


def test_emit_counts_the_voices_that_fall_silent(rng):
    bank, envs = _bank_with_voices(rng, n=3)
    envs[0].note_off(fast=True)  # a 2 ms ramp: silent within 100 samples
    k = plan(bank.env_state, bank.pos, bank.fifo, bank.lead, HOP, 200, bank.playing, bank.due)
    out = np.zeros(200)
    assert emit(out, bank.playing, k, bank.fifo, bank.pos, bank.env_state, bank.env_params,
                bank.gain) == 1
    assert not envs[0].active and envs[1].active and envs[2].active


def test_plan_moves_unread_samples_to_the_front_and_counts_due_frames():
    bank = VoiceBank(3, 500)
    for s in range(3):
        bank.env_state[s, 0] = 3  # sustaining
    bank.fifo[0, :] = np.arange(500)
    bank.pos[0] = (100, 150)  # 50 unread samples
    bank.pos[1] = (0, 300)  # enough
    bank.pos[2] = (10, 10)  # empty
    bank.lead[:] = (10, 0, 63)
    k = plan(bank.env_state, bank.pos, bank.fifo, bank.lead, HOP, 128, bank.playing, bank.due)
    assert k == 3
    # voice 0 needs 128 + 10 samples, has 50: ceil(88 / 64) = 2 frames, unread moved to 0
    assert bank.due[0] == 2 and list(bank.pos[0]) == [0, 50]
    np.testing.assert_array_equal(bank.fifo[0, :50], np.arange(100, 150))
    assert bank.due[1] == 0 and list(bank.pos[1]) == [0, 300]
    assert bank.due[2] == 3 and list(bank.pos[2]) == [0, 0]  # ceil(191 / 64)
