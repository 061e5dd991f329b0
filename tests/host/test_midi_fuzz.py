"""Fuzz the whole MIDI path: random bytes -> parser -> mapper -> event slots -> engine.

10,000 random byte streams (biased towards status, sysex, EOX, real-time and
system common bytes, so truncated messages and running status are common),
cut into chunks anywhere, go through both ways MIDI enters a live session:

- the byte stream (rtmidi, a MIDI file, a serial port): :class:`MidiParser`;
- JACK MIDI, one event per chunk: :func:`parse_message` on each chunk;

then :meth:`CommandMapper.map` into the host's preallocated
:class:`~rtsynth.host.runtime.EventSlots` at random offsets, and
:func:`render_with_events` into CANNe through ANNe (``play canne --fx``, whose
mapping holds every command kind). No exception may escape, and the output
stays finite within [-1, 1].
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtsynth.control import CommandMapper, MidiParser, instrument_mapping, parse_message
from rtsynth.engine import CanneSynth, Chain, render_with_events
from rtsynth.host.effect_render import build_effect
from rtsynth.host.runtime import EventSlots
from rtsynth.model import load_bundle
from synth_bundles import make_identity_bundle, make_synth_bundle

_SPECIAL = [0xF0, 0xF7, 0xF8, 0xFE, 0xFF, 0xF1, 0xF2, 0xF3, 0xF6, 0xF4, 0x80, 0x90, 0xA0, 0xB0,
            0xC0, 0xD0, 0xE0, 0x9F, 0xBF, 0xEF, 0x00, 0x7F, 21, 28, 29, 35, 53, 64, 120, 123]
streams = st.one_of(
    st.binary(max_size=120),
    st.lists(st.one_of(st.integers(0, 255), st.sampled_from(_SPECIAL)), max_size=120).map(bytes),
)
BLOCK = 32


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-bundles")
    synth = CanneSynth(load_bundle(make_synth_bundle(root / "s", n_fft=256, hop=64,
                                                     sample_rate=16000)),
                       sample_rate=16000, polyphony=4, max_block=BLOCK)
    effect = build_effect(load_bundle(make_identity_bundle(root / "i")), sample_rate=16000,
                          block=BLOCK)
    mapper = CommandMapper(instrument_mapping("canne", fx=True))
    return Chain(synth, effect), mapper, MidiParser(), EventSlots(256), np.zeros(BLOCK)


@settings(max_examples=10_000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=streams, cuts=st.lists(st.integers(0, 240), max_size=6), jack=st.booleans())
def test_random_bytes_through_parser_mapper_and_engine(path, data, cuts, jack):
    engine, mapper, parser, slots, out = path
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    slots.clear()

    def emit(offset, status, d1, d2):
        slots.offset = offset
        mapper.map(status, d1, d2, slots)

    for i, chunk in enumerate(chunks):
        offset = (i * 7) % BLOCK
        if jack:  # one JACK MIDI event per chunk
            msg = parse_message(chunk)
            if msg is not None:
                emit(offset, *msg)
        else:
            parser.feed(chunk, emit, offset)
    # the host hands events to the engine sorted by offset, as JACK delivers them
    order = sorted(range(len(slots)), key=lambda k: slots[k][0])
    events = [(slots[k][0], slots[k][1]) for k in order]
    render_with_events(engine, out, events, 0, BLOCK)
    assert np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0
