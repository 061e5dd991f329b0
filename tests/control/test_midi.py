"""MidiParser / parse_message: running status, real-time bytes, sysex, truncation, fuzzing."""

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtsynth.control.events import EventQueue
from rtsynth.control.midi import (CHANNEL_DATA_LENGTH, SYSTEM_COMMON_DATA_LENGTH, MidiParser,
                                  data_length, parse_message)


def parse_chunks(chunks):
    """Feed chunks to one fresh parser; return (messages, errors)."""
    p = MidiParser()
    out = []
    for c in chunks:
        p.feed(c, lambda _o, s, a, b: out.append((s, a, b)))
    return out, p.errors


def parse(data):
    return parse_chunks([bytes(data)])


# ----------------------------------------------------------------- unit cases
def test_running_status_and_note_on_velocity_zero_passes_raw():
    msgs, errors = parse([0x90, 60, 100, 62, 90, 60, 0, 0xB1, 21, 5, 22, 6])
    assert msgs == [(0x90, 60, 100), (0x90, 62, 90), (0x90, 60, 0), (0xB1, 21, 5), (0xB1, 22, 6)]
    assert errors == 0


def test_one_data_byte_messages_under_running_status():
    msgs, errors = parse([0xC3, 1, 2, 3, 0xD0, 100, 0x7F])
    assert msgs == [(0xC3, 1, 0), (0xC3, 2, 0), (0xC3, 3, 0), (0xD0, 100, 0), (0xD0, 0x7F, 0)]
    assert errors == 0


def test_realtime_bytes_anywhere_are_transparent():
    data = [0xF8, 0x90, 0xFA, 60, 0xFE, 100, 0xFF, 61, 0xFC, 0xF9, 0xFD, 101]
    assert parse(data) == ([(0x90, 60, 100), (0x90, 61, 101)], 0)
    # inside a sysex they do not end it, and running status survives them
    assert parse([0xF0, 1, 0xF8, 2, 0xF7, 0x80, 1, 2, 0xF8, 3, 4]) == ([(0x80, 1, 2), (0x80, 3, 4)], 0)


def test_sysex_split_across_chunks_is_skipped():
    # the sysex body holds bytes that look like a note-on's data; none of it is emitted
    chunks = [bytes([0x90, 60, 100, 0xF0, 0x7E, 0x7F]), bytes([60, 100]), bytes([1, 2, 3]),
              bytes([4, 0xF7, 0x80, 60]), bytes([0])]
    assert parse_chunks(chunks) == ([(0x90, 60, 100), (0x80, 60, 0)], 0)


def test_sysex_cancels_running_status():
    msgs, errors = parse([0x90, 60, 100, 0xF0, 1, 0xF7, 61, 100])
    assert msgs == [(0x90, 60, 100)] and errors == 2  # two stray data bytes


def test_unterminated_sysex_resyncs_on_next_status():
    msgs, errors = parse([0xF0, 1, 2, 3, 0x90, 60, 100, 0xF0, 5, 0xF0, 6, 0xF7, 0xB0, 1, 2])
    assert msgs == [(0x90, 60, 100), (0xB0, 1, 2)] and errors == 2
    # unterminated at the end of a chunk is pending, not an error (it may go on)
    p = MidiParser()
    p.feed(bytes([0xF0, 1, 2]), lambda *a: None)
    assert p.pending and p.errors == 0
    p.feed(bytes([3, 0xF7]), lambda *a: None)
    assert not p.pending and p.errors == 0


def test_truncated_messages_are_dropped_and_counted():
    data = [0x90, 60,            # cut short by a status byte
            0x80,                # status with no data at all
            0xB0, 7, 100,        # fine
            0xE0, 5,             # cut short
            0xF2, 1,             # song position cut short
            0xC0, 9]             # fine
    msgs, errors = parse(data)
    assert msgs == [(0xB0, 7, 100), (0xC0, 9, 0)] and errors == 4


def test_stray_data_bytes_and_stray_eox():
    msgs, errors = parse([1, 2, 3, 0xF7, 4, 0x90, 60, 100])
    assert msgs == [(0x90, 60, 100)] and errors == 5


def test_system_common_consumed_with_lengths_and_cancel_running_status():
    for status, n in SYSTEM_COMMON_DATA_LENGTH.items():
        data = [0x90, 60, 100, status] + [0x11] * n + [0x90, 61, 100]
        assert parse(data) == ([(0x90, 60, 100), (0x90, 61, 100)], 0), hex(status)
        # after it, running status is gone: bare data bytes are strays
        data = [0x90, 60, 100, status] + [0x11] * n + [61, 100]
        assert parse(data) == ([(0x90, 60, 100)], 2), hex(status)


def test_every_chunking_gives_same_result():
    data = bytes([0xF8, 0x90, 60, 100, 61, 0xF0, 1, 2, 0xF7, 0xB0, 21, 64, 53, 0xFE, 3, 0xF2, 1,
                  0xE0, 0, 64, 0xF0, 9, 0xC2, 5, 6])
    whole = parse(data)
    for cut in range(len(data) + 1):
        assert parse_chunks([data[:cut], data[cut:]]) == whole
    assert parse_chunks([data[i:i + 1] for i in range(len(data))]) == whole


def test_feed_passes_offset_and_accepts_bytes_like_and_queue_push():
    p = MidiParser()
    q = EventQueue(8)
    assert p.feed(bytearray([0x90, 60, 100]), q.push, offset=128) == 1
    assert p.feed(memoryview(bytes([61, 0])), q.push, offset=200) == 1
    out = []
    q.drain(lambda *ev: out.append(ev))
    assert out == [(128, 0x90, 60, 100), (200, 0x90, 61, 0)]
    assert p.messages == 2


def test_parse_convenience_and_reset():
    p = MidiParser()
    assert p.parse(bytes([0x90, 60])) == [] and p.pending
    p.reset()
    assert not p.pending
    assert p.parse(bytes([100])) == [] and p.errors == 1  # running status forgotten too


def test_mido_serialised_messages_round_trip(rng):
    """An independent encoder (mido, explicit status on every message) -> the same messages back."""
    kinds = [("note_on", dict(note=1, velocity=1)), ("note_off", dict(note=1, velocity=1)),
             ("control_change", dict(control=1, value=1)), ("program_change", dict(program=1)),
             ("pitchwheel", dict(pitch=1)), ("aftertouch", dict(value=1)),
             ("polytouch", dict(note=1, value=1))]
    stream, expected = bytearray(), []
    for _ in range(500):
        kind, fields = kinds[rng.integers(len(kinds))]
        args = {k: int(rng.integers(128)) for k in fields}
        if kind == "pitchwheel":
            args = {"pitch": int(rng.integers(-8192, 8192))}
        raw = mido.Message(kind, channel=int(rng.integers(16)), **args).bytes()
        stream += bytes(raw)
        expected.append((raw[0], raw[1], raw[2] if len(raw) == 3 else 0))
    assert parse(stream) == (expected, 0)


def test_parse_message():
    assert parse_message(bytes([0x90, 60, 100])) == (0x90, 60, 100)
    assert parse_message(bytes([0x99, 60, 0])) == (0x99, 60, 0)
    assert parse_message(bytes([0xC5, 7])) == (0xC5, 7, 0)
    assert parse_message([0xEF, 0, 64]) == (0xEF, 0, 64)
    for bad in [b"", b"\x90", b"\x90\x3c", b"\x90\x3c\x64\x00", b"\xc0\x01\x02", b"\x90\x80\x10",
                b"\x90\x10\x80", b"\xf8", b"\xf0\x01\xf7", b"\xf2\x01\x02", b"\x3c\x64\x10",
                b"\xf1\x10"]:
        assert parse_message(bad) is None, bad
    assert parse_message([300, 1, 2]) is None and parse_message([0x90, -1, 2]) is None


def test_data_length_table():
    assert data_length(0x90) == 2 and data_length(0xC0) == 1 and data_length(0xDF) == 1
    assert data_length(0xF2) == 2 and data_length(0xF6) == 0
    assert data_length(0xF0) == -1 and data_length(0xF8) == -1 and data_length(0x10) == -1


# ----------------------------------------------------------------- reference oracle
def reference_parse(data):
    """An independent formulation: drop real-time bytes, cut at status bytes, judge each segment.

    Returns (messages, errors) with the parser's documented semantics; the
    last segment may be incomplete without counting as an error.
    """
    data = [b for b in data if b < 0xF8]
    segments, lead = [], 0
    for b in data:
        if b >= 0x80:
            segments.append([b, []])
        elif segments:
            segments[-1][1].append(b)
        else:
            lead += 1
    msgs, errors = [], lead
    in_sysex = False
    for k, (status, body) in enumerate(segments):
        last = k == len(segments) - 1
        if in_sysex and status != 0xF7:
            errors += 1  # sysex interrupted
        if status == 0xF7:
            errors += (0 if in_sysex else 1) + len(body)
            in_sysex = False
        elif status == 0xF0:
            in_sysex = True
        elif status >= 0xF1:
            n = SYSTEM_COMMON_DATA_LENGTH[status]
            if len(body) < n:
                errors += 0 if last else 1
            else:
                errors += len(body) - n
            in_sysex = False
        else:
            in_sysex = False
            n = CHANNEL_DATA_LENGTH[status >> 4]
            full = len(body) // n
            for j in range(full):
                d = body[j * n:(j + 1) * n]
                msgs.append((status, d[0], d[1] if n == 2 else 0))
            if not last and (len(body) == 0 or len(body) % n):
                errors += 1
    return msgs, errors


def check_well_formed(msgs):
    for s, a, b in msgs:
        assert 0x80 <= s <= 0xEF
        assert 0 <= a < 0x80 and 0 <= b < 0x80
        if CHANNEL_DATA_LENGTH[s >> 4] == 1:
            assert b == 0


def chunked(data, cuts):
    cuts = sorted({c % (len(data) + 1) for c in cuts}) if data else []
    bounds = [0] + cuts + [len(data)]
    return [data[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]


# bytes biased towards the interesting ones (status, sysex, EOX, real-time, common)
_SPECIAL = [0xF0, 0xF7, 0xF8, 0xFE, 0xFF, 0xF1, 0xF2, 0xF3, 0xF6, 0xF4, 0x80, 0x90, 0xB0, 0xC0,
            0xD0, 0xE0, 0x9F, 0xCF, 0x00, 0x7F]
random_streams = st.one_of(
    st.binary(max_size=200),
    st.lists(st.one_of(st.integers(0, 255), st.sampled_from(_SPECIAL)), max_size=200).map(bytes),
)
FUZZ = settings(max_examples=10_000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=random_streams, cuts=st.lists(st.integers(0, 400), max_size=8))
def test_fuzz_random_bytes_never_raise_and_are_chunking_invariant(data, cuts):
    whole = parse(data)
    check_well_formed(whole[0])
    assert parse_chunks(chunked(data, cuts)) == whole
    assert whole == reference_parse(data)
    if len(data) <= 40:  # byte by byte too (short streams keep the fuzz fast)
        assert parse_chunks([data[i:i + 1] for i in range(len(data))]) == whole


@st.composite
def structured_streams(draw):
    """Valid messages (with and without running status) mixed with truncations, sysex,
    system common and stray bytes, plus real-time bytes sprinkled anywhere.

    Returns (stream, expected messages, expected errors).
    """
    out, expected, errors = bytearray(), [], 0
    # "none": no running status; "running": one is set; "pending": a message is
    # incomplete; "sysex": a sysex is open (an EOX would end it)
    state = "none"
    running = 0

    def data7(lo, hi):  # lo..hi data bytes in one draw (one draw per byte is slow)
        return bytes(b & 0x7F for b in draw(st.binary(min_size=lo, max_size=hi)))
    for _ in range(draw(st.integers(0, 25))):
        item = draw(st.sampled_from(["msg", "msg", "running", "running", "trunc", "sysex",
                                     "sysex_open", "common", "common_trunc", "stray", "eox"]))
        if item == "running" and state != "running":
            item = "msg"
        if item == "stray" and state != "none":
            item = "msg"
        if item != "running" and item != "stray":  # the item starts with a status byte
            if state == "pending" or (state == "sysex" and item != "eox"):
                errors += 1  # ... which cuts the pending message (or open sysex) short
        if item in ("msg", "running"):
            if item == "msg":
                running = draw(st.integers(0x80, 0xEF))
                out.append(running)
            n = CHANNEL_DATA_LENGTH[running >> 4]
            d = data7(n, n)
            out += d
            expected.append((running, d[0], d[1] if n == 2 else 0))
            state = "running"
        elif item == "trunc":
            status = draw(st.integers(0x80, 0xEF))
            n = CHANNEL_DATA_LENGTH[status >> 4]
            out.append(status)
            out += data7(0, n - 1)
            state = "pending"
        elif item in ("sysex", "sysex_open"):
            out.append(0xF0)
            out += data7(0, 12)
            if item == "sysex":
                out.append(0xF7)
                state = "none"
            else:
                state = "sysex"
        elif item == "common":
            status = draw(st.sampled_from(sorted(SYSTEM_COMMON_DATA_LENGTH)))
            out.append(status)
            out += data7(SYSTEM_COMMON_DATA_LENGTH[status], SYSTEM_COMMON_DATA_LENGTH[status])
            state = "none"
        elif item == "common_trunc":
            status = draw(st.sampled_from([0xF1, 0xF2, 0xF3]))
            out.append(status)
            out += data7(0, SYSTEM_COMMON_DATA_LENGTH[status] - 1)
            state = "pending"
        elif item == "stray":
            stray = data7(1, 3)
            out += stray
            errors += len(stray)
        else:  # "eox": ends an open sysex, else it is a stray end-of-exclusive
            out.append(0xF7)
            errors += state != "sysex"
            state = "none"
    # real-time bytes anywhere, including inside messages and sysex
    for pos, rt in draw(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0xF8, 0xFF)),
                                 max_size=6)):
        out.insert(pos % (len(out) + 1), rt)
    return bytes(out), expected, errors


@settings(max_examples=1000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=structured_streams(), cuts=st.lists(st.integers(0, 400), max_size=8))
def test_fuzz_structured_streams_give_exactly_the_valid_messages(case, cuts):
    stream, expected, errors = case
    assert parse(stream) == (expected, errors)
    assert parse_chunks(chunked(stream, cuts)) == (expected, errors)
    assert reference_parse(stream) == (expected, errors)


def test_emit_raising_leaves_parser_consistent():
    p = MidiParser()

    def boom(*_):
        raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        p.feed(bytes([0x90, 60, 100, 61]), boom)
    out = []
    p.feed(bytes([62, 63]), lambda _o, s, a, b: out.append((s, a, b)))
    # the rest of the failing chunk is lost, but the state is not torn: running status is kept
    assert out == [(0x90, 62, 63)] and p.errors == 0 and p.messages == 2
