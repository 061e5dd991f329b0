"""The performer view of ``rtsynth play --ui``: a textual terminal app over a running host.

It shows the parameters as bars, the MIDI activity, the voices in use, the
output (and input) meters, the DSP load per block against the period's
deadline with its recent history, and the xrun count; arrow keys and the mouse
move parameters, the letter rows play notes (:mod:`rtsynth.host.keyboard`),
Ctrl-L arms MIDI learn for the selected parameter.

It runs in a process of its own (:mod:`rtsynth.host.ui_process`, started by
:func:`rtsynth.host.ui_bridge.run_view`), so its Python never competes with
the audio callback for the GIL. The app redraws ``fps`` times a second from
:class:`~rtsynth.host.ui_session.ViewSession`. Every panel is a stack of
one-line widgets and only the lines whose text changed are sent to textual:
its compositor renders a changed widget whole, so one widget per panel made
each frame repaint about 49 lines (the whole screen, 150 kB/s to the terminal
and 30 % of a core on the 2-core development machine) to move one bar.
"""

import math
import time

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static


__all__ = ["LiveView", "FPS"]

#: redraws per second (design: 15-30; the meters need no more)
FPS = 15
_SPARK = " ▁▂▃▄▅▆▇█"
_BAR = " ▏▎▍▌▋▊▉█"
_NAME_W, _VALUE_W = 10, 14


class LiveView(App):
    """The textual app.

    Parameters
    ----------
    session : ViewSession
    poll : callable
        ``poll() -> list of snapshots`` since the last call, or None when the
        session has ended (the app quits).
    fps : float
    """

    # one grid, no nested containers: a changed line is rendered by each widget above
    # it too, so every level of nesting adds to the cost of each frame
    CSS = """
    Screen { layout: grid; grid-size: 2 4; grid-columns: 3fr 2fr; grid-rows: 1 auto 1fr auto; }
    #title { column-span: 2; background: $primary-darken-2; }
    #params { row-span: 2; border: round $secondary; padding: 0 1; }
    #meters, #midi, #status { height: auto; border: round $secondary; padding: 0 1; }
    #midi { height: 1fr; }
    #status { column-span: 2; }
    _Lines > Static { height: 1; }
    """
    BINDINGS = [Binding("ctrl+c", "quit", "quit", priority=True),
                Binding("ctrl+q", "quit", "quit", priority=True)]
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, session, poll, fps=FPS):
        super().__init__()
        self.session, self.poll, self.fps = session, poll, fps

    def compose(self) -> ComposeResult:
        s = self.session
        yield Static(Text(s.title, no_wrap=True, overflow="ellipsis"), id="title")
        yield _Params(s, len(s.board.specs), id="params")
        yield _Lines(4 + s.has_input, id="meters")
        yield _Lines(1 + s.midi_activity.maxlen, id="midi")
        yield _Lines(2, id="status")

    def on_mount(self):
        self.query_one("#params").border_title = "parameters  ↑↓ select  ←→ move (shift fine)"
        self.query_one("#meters").border_title = "meters"
        self.query_one("#midi").border_title = "MIDI"
        self.query_one("#status").border_title = ("keyboard  (Ctrl-L learn, space panic, "
                                                  "Ctrl-C quit)")
        self.set_interval(1.0 / self.fps, self._frame)
        self._frame()

    def on_key(self, event):
        if self.session.key(event.key, time.monotonic()):
            event.stop()
            self._frame(tick=False)

    def _frame(self, tick=True):
        if not self.screen.is_mounted or not self.is_running:
            return  # a timer that fires while the app is shutting down
        s = self.session
        if tick:
            snaps = self.poll()
            if snaps is None:  # the session ended
                self.exit()
                return
            for snap in snaps:
                s.apply(snap)
            s.tick(time.monotonic())
        params = self.query_one(_Params)
        params.show(params.render_rows())
        self.query_one("#meters", _Lines).show(_meters(s))
        self.query_one("#midi", _Lines).show(_midi(s))
        self.query_one("#status", _Lines).show(_status(s))


class _Lines(Vertical):
    """A panel of ``count`` one-line widgets; :meth:`show` updates only the lines that
    changed (a moved knob, the DSP meter), which is all textual then repaints."""

    def __init__(self, count, **kw):
        super().__init__(**kw)
        self.count = count
        self.shown = Text()  # the text last shown, whole
        self._keys = [None] * count
        self._rows = [Static() for _ in range(count)]

    def compose(self) -> ComposeResult:
        yield from self._rows

    def show(self, text):
        """Show ``text`` (a Text of at most ``count`` lines)."""
        self.shown = text
        lines = text.split("\n", allow_blank=True)
        for i, row in enumerate(self._rows):
            line = lines[i] if i < len(lines) else Text()
            key = (line.plain, tuple(line.spans))
            if key != self._keys[i]:
                self._keys[i] = key
                row.update(line, layout=False)  # sizes are fixed


class _Params(_Lines):
    """The parameter bars; a click sets a value, the wheel nudges the row under the pointer."""

    def __init__(self, session, count, **kw):
        super().__init__(count, **kw)
        self.session = session

    def render_rows(self):
        board = self.session.board
        width = max(8, self.content_size.width - _NAME_W - _VALUE_W - 2)
        text = Text(no_wrap=True)
        for i, spec in enumerate(board.specs):
            sel = i == board.selected
            style = "reverse" if sel else ""
            armed = self.session.armed == spec.name
            text.append(f"{spec.name:<{_NAME_W}}", style="bold yellow" if armed else style)
            text.append(" " + _bar(board.unit(i), width) + " ", style="cyan")
            text.append(f"{board.label(i):>{_VALUE_W}}\n", style=style)
        return text

    def _row_at(self, event):
        offset = event.get_content_offset(self)
        if offset is None or not 0 <= offset.y < len(self.session.board.specs):
            return None, None
        width = max(8, self.content_size.width - _NAME_W - _VALUE_W - 2)
        return offset.y, (offset.x - _NAME_W - 1) / width

    def on_click(self, event):
        row, u = self._row_at(event)
        if row is not None:
            self.session.board.selected = row
            if 0.0 <= u <= 1.0:
                self.session.board.set_unit(row, u)

    def on_mouse_scroll_up(self, event):
        row, _ = self._row_at(event)
        if row is not None:
            self.session.board.nudge(1, row=row)

    def on_mouse_scroll_down(self, event):
        row, _ = self._row_at(event)
        if row is not None:
            self.session.board.nudge(-1, row=row)


def _meters(s):
    now, peak, median, xruns = s.dsp()
    period_ms = s.period_ms
    t = Text(no_wrap=True)
    for k, name in enumerate(("out", "in")):
        if name == "in" and not s.has_input:
            continue
        pk, rms = s.db(2 * k), s.db(2 * k + 1)
        t.append(f"{name:<4} {_db_bar(pk, 14)}", style="red" if pk > -0.5 else "green")
        t.append(f" {_db(pk)} pk {_db(rms)} rms\n")
    t.append(f"DSP  {_bar(min(now, 100.0) / 100.0, 14)}", style="red" if now > 80 else "cyan")
    t.append(f" {now:5.1f} % of {period_ms:.2f} ms\n")
    t.append(f"max  {_spark(s.load_history)}", style="cyan")
    t.append(f" {peak:5.1f} % (1 s)\n")
    t.append(f"median {median:.1f} %  ")
    t.append(f"xruns {xruns}", style="bold red" if xruns else "")
    t.append(f"  voices {s.voices}")
    return t


def _midi(s):
    activity = s.midi_activity
    t = Text(no_wrap=True)
    t.append(f"{s.midi_count} messages\n", style="bold")
    for i, line in enumerate(activity.lines):
        t.append(line + "\n", style="bold" if i == activity.latest else "")
    return t


def _status(s):
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(s.piano.describe() + "\n")
    t.append(s.messages[-1] if s.messages else "", style="yellow")
    return t


def _bar(u, width):
    """A horizontal bar ``width`` cells long filled to ``u`` (0..1), in eighths of a cell."""
    eighths = int(round(min(1.0, max(0.0, u)) * width * 8))
    full, part = divmod(eighths, 8)
    return ("█" * full + (_BAR[part] if part else "")).ljust(width, "·")[:width]


def _db_bar(db, width, floor=-60.0):
    return _bar(0.0 if math.isinf(db) else (db - floor) / -floor, width)


def _db(db):
    return "  -inf" if math.isinf(db) else f"{db:6.1f}"


def _spark(values, top=100.0):
    return "".join(_SPARK[min(8, int(round(8 * min(v, top) / top)))] for v in values)
