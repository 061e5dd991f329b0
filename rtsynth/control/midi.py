"""Streaming MIDI 1.0 byte parser: raw bytes in, complete channel messages out.

Bytes may come from a ``.mid`` track body, a serial port or JACK MIDI buffers,
cut into chunks anywhere. :class:`MidiParser` keeps its state between
:meth:`MidiParser.feed` calls, so the chunking never changes what comes out.

What it emits: channel voice messages only, as ``(status, data1, data2)`` with
``status`` in 0x80..0xEF, data bytes < 0x80, and ``data2 = 0`` for the
one-data-byte kinds (program change 0xC_, channel pressure 0xD_). Messages are
passed on raw: a note-on with velocity 0 stays a note-on (the command mapper
reads it as note-off, as MIDI 1.0 specifies).

What it handles (MIDI 1.0 detailed specification):

* running status: data bytes after a complete channel message reuse its status;
* real-time bytes 0xF8..0xFF may appear anywhere, even inside another message
  or a sysex; they are skipped and do not disturb the message around them;
* system exclusive 0xF0 .. 0xF7 is skipped, also when split across chunks; a
  sysex that another status byte interrupts (no 0xF7) is counted as an error
  and parsing resynchronises on that status byte;
* system common messages are consumed with their lengths (0xF1 and 0xF3: one
  data byte, 0xF2: two, 0xF4/0xF5/0xF6: none) and not emitted; they and sysex
  cancel running status;
* malformed input never raises: a message cut short by a status byte, a data
  byte with no status to attach it to (each such byte) and a stray 0xF7 are
  dropped and counted in ``errors``. A message still incomplete at the end of
  a chunk is not an error: it waits for the next chunk.

The loop keeps its state in local ints and allocates nothing per byte (bytes
iterate as cached small ints); the only per-message cost is the ``emit`` call.
"""

__all__ = ["MidiParser", "parse_message", "data_length", "CHANNEL_DATA_LENGTH",
           "SYSTEM_COMMON_DATA_LENGTH"]

#: data bytes after a channel status, by high nibble (0x8_ .. 0xE_)
CHANNEL_DATA_LENGTH = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
#: data bytes after a system common status (0xF0 sysex and 0xF7 EOX are handled apart)
SYSTEM_COMMON_DATA_LENGTH = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}

# per-status lookup (index = status byte) built once: data length of a channel
# status, -1 for everything else; avoids dict lookups in the byte loop
_CH_LEN = [-1] * 256
for _s in range(0x80, 0xF0):
    _CH_LEN[_s] = CHANNEL_DATA_LENGTH[_s >> 4]
del _s

# parser modes
_IDLE = 0      # between messages, no running status
_STARTED = 1   # a channel status byte just arrived, no data byte yet (incomplete)
_CHANNEL = 2   # running status set; have = data bytes of the current message so far
_COMMON = 3    # skipping the data bytes of a system common message
_SYSEX = 4     # inside a system exclusive message


def data_length(status: int) -> int:
    """Data bytes following ``status`` (channel or system common); -1 for sysex, EOX, real-time or data bytes."""
    if 0x80 <= status <= 0xEF:
        return _CH_LEN[status]
    return SYSTEM_COMMON_DATA_LENGTH.get(status, -1)


def parse_message(data):
    """Decode one complete channel message (e.g. one JACK MIDI event) to ``(status, d1, d2)``.

    ``data`` is bytes-like or a sequence of ints. Returns None for anything
    else: real-time, system common or sysex messages, empty input, a wrong
    length or a data byte >= 0x80. Never raises for bytes-like input.
    """
    n = len(data)
    if n < 2 or n > 3:
        return None
    status = data[0]
    need = _CH_LEN[status] if 0 <= status <= 0xFF else -1
    if need < 0 or n != need + 1:
        return None
    d1 = data[1]
    if not 0 <= d1 < 0x80:
        return None
    if need == 1:
        return (status, d1, 0)
    d2 = data[2]
    if not 0 <= d2 < 0x80:
        return None
    return (status, d1, d2)


class MidiParser:
    """Streaming MIDI byte parser with running status (see the module docstring).

    Attributes
    ----------
    errors : int
        Malformed pieces dropped so far (truncated messages, unterminated
        sysex, stray data bytes, stray 0xF7).
    messages : int
        Channel messages emitted so far.
    """

    __slots__ = ("errors", "messages", "_mode", "_running", "_need", "_have", "_d1")

    def __init__(self):
        self.errors = 0
        self.messages = 0
        self.reset()

    def reset(self) -> None:
        """Forget any partial message and the running status (counters are kept)."""
        self._mode = _IDLE
        self._running = 0   # current channel status, 0 = none
        self._need = 0      # data bytes the current message needs
        self._have = 0      # data bytes collected so far
        self._d1 = 0

    @property
    def pending(self) -> bool:
        """True while a channel or system common message, or a sysex, is incomplete."""
        mode = self._mode
        return mode != _IDLE and not (mode == _CHANNEL and self._have == 0)

    def feed(self, data, emit, offset=0) -> int:
        """Parse a chunk of bytes, calling ``emit(offset, status, d1, d2)`` per complete channel message.

        ``data`` is bytes-like (bytes, bytearray, memoryview of bytes);
        ``offset`` is passed through unchanged (e.g. the chunk's frame time, or
        a sample offset for an :class:`~rtsynth.control.events.EventQueue`,
        whose ``push`` has this very signature). Returns the number of
        messages emitted. If ``emit`` raises, the exception propagates, the
        rest of the chunk is dropped and the parser state stays consistent.
        """
        mode = self._mode
        running = self._running
        need = self._need
        have = self._have
        d1 = self._d1
        errors = 0
        count = 0
        ch_len = _CH_LEN
        try:
            for b in data:
                if b < 0x80:                       # ------------------------ data byte
                    if mode == _CHANNEL or mode == _STARTED:
                        mode = _CHANNEL
                        if have == 0:
                            if need == 1:
                                emit(offset, running, b, 0)
                                count += 1
                                # stay in _CHANNEL: running status awaits more data
                            else:
                                d1 = b
                                have = 1
                        else:
                            have = 0
                            count += 1
                            emit(offset, running, d1, b)
                    elif mode == _SYSEX:
                        pass
                    elif mode == _COMMON:
                        have += 1
                        if have >= need:
                            mode = _IDLE
                            have = 0
                    else:                              # no status to attach it to
                        errors += 1
                elif b >= 0xF8:                    # ------------------------ real-time
                    pass
                else:                              # ------------------------ status byte
                    if mode == _SYSEX:
                        if b == 0xF7:
                            mode = _IDLE
                            continue
                        errors += 1                    # sysex interrupted: unterminated
                    elif have or mode == _STARTED or mode == _COMMON:
                        errors += 1                    # channel or common message cut short
                    have = 0
                    n = ch_len[b]
                    if n > 0:
                        running = b
                        need = n
                        mode = _STARTED
                    else:
                        running = 0                    # system messages cancel running status
                        if b == 0xF0:
                            mode = _SYSEX
                        elif b == 0xF7:                # EOX with no sysex open
                            errors += 1
                            mode = _IDLE
                        else:
                            need = SYSTEM_COMMON_DATA_LENGTH[b]
                            mode = _COMMON if need else _IDLE
        finally:  # keep the state consistent even if emit raises
            self._mode = mode
            self._running = running
            self._need = need
            self._have = have
            self._d1 = d1
            self.errors += errors
            self.messages += count
        return count

    def parse(self, data, offset=0) -> list:
        """Convenience (allocates): feed ``data`` and return the emitted ``(status, d1, d2)`` tuples."""
        out = []
        append = out.append
        self.feed(data, lambda _o, s, a, b: append((s, a, b)), offset)
        return out
