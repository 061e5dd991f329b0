"""The performer view of ``rtsynth play --ui``: a textual terminal app over a running host.

It shows the parameters as bars, the MIDI activity, the voices in use, the
output (and input) meters, the DSP load per block against the period's
deadline with its recent history, and the xrun count; arrow keys and the mouse
move parameters, the letter rows play notes (:mod:`rtsynth.host.keyboard`),
Ctrl-L arms MIDI learn for the selected parameter.

It runs in a process of its own (:mod:`rtsynth.host.ui_process`, started by
:class:`rtsynth.host.ui_bridge.View`), so its Python never competes with
the audio callback for the GIL. The app redraws ``fps`` times a second from
:class:`~rtsynth.host.ui_session.ViewSession`.

The whole screen is one widget drawn with textual's line API: each frame
lays the panels out into screen rows of plain ``(text, style)`` pieces and
asks textual to repaint only the rows whose pieces changed. Both halves of
that matter on a small machine (``benchmarks/view_cost.py``, 10 frames a
second): with one textual widget per panel line, each changed line
re-rendered that widget, its panel and the screen behind it (about 33 widget
renders a frame, 14 % of a core); with one widget drawn from rich ``Text``
rows, building those rows took most of 10.5 %. Now: about 4 %.
"""

import functools
import math
import time

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from .ui_session import FRAME_RATE

__all__ = ["LiveView", "FPS"]

#: redraws per second (see :data:`~rtsynth.host.ui_session.FRAME_RATE`)
FPS = FRAME_RATE
_SPARK = " ▁▂▃▄▅▆▇█"
_BAR = " ▏▎▍▌▋▊▉█"
_NAME_W, _VALUE_W = 10, 14
_BORDER = "blue"
_TITLE = "bold white on dark_blue"
#: the status panel's height in rows (two lines in a box)
_STATUS_H = 4
_PARAMS_TITLE = "parameters  ↑↓ select  ←→ move (shift fine)"
_STATUS_TITLE = "keyboard  (Ctrl-L learn, space panic, Ctrl-C quit)"


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

    CSS = "Screen { overflow: hidden; } _Canvas { width: 1fr; height: 1fr; }"
    BINDINGS = [Binding("ctrl+c", "quit", "quit", priority=True),
                Binding("ctrl+q", "quit", "quit", priority=True)]
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, session, poll, fps=FPS):
        super().__init__()
        self.session, self.poll, self.fps = session, poll, fps
        self.canvas = _Canvas(session)

    def compose(self) -> ComposeResult:
        yield self.canvas

    def on_mount(self):
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
        self.canvas.draw()


class _Canvas(Widget):
    """The view's screen: panels laid out into rows of text, repainted row by row.

    A line of a panel is a tuple of ``(text, style)`` pieces (``style`` a rich
    style string); a screen row is the pieces of its panels' lines between
    borders, compared with the row last drawn as plain tuples.

    Attributes
    ----------
    shown : dict of str -> list of lines
        Each panel's lines as last drawn (``params``, ``meters``, ``midi``,
        ``status``); :meth:`text` gives one as plain text.
    """

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.shown = {}
        self._drawn = None
        self._keys = []
        self._strips = []
        # the layout as last drawn: the parameter panel's width, the parameter rows
        # shown and their bars' width in cells (for the mouse)
        self._left_w, self._params_shown, self._bar_w = 0, 0, 8

    def text(self, panel):
        """Panel ``panel``'s lines as last drawn, as plain text."""
        return "\n".join("".join(t for t, _ in line) for line in self.shown.get(panel, ()))

    def draw(self):
        """Lay the session out and repaint the rows whose text changed."""
        width, height = self.size
        if width <= 0 or height <= 0:
            return  # not laid out yet
        if self._drawn != (width, height):
            self._drawn = (width, height)
            self._keys = [None] * height
            self._strips = [Strip.blank(width)] * height
        for y, row in enumerate(self._rows(width, height)):
            if row != self._keys[y]:
                self._keys[y] = row
                self._strips[y] = Strip([Segment(t, _style(s)) for t, s in row], width)
                self.refresh(Region(0, y, width, 1))

    def render_line(self, y):
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width)

    def on_resize(self, event):
        self._drawn = None
        self.draw()

    def params_lines(self):
        """The parameter rows (one line per parameter) with bars as wide as last laid out."""
        board, armed, width = self.session.board, self.session.armed, self._bar_w
        lines = []
        for i, spec in enumerate(board.specs):
            style = "reverse" if i == board.selected else ""
            lines.append(((f"{spec.name:<{_NAME_W}}",
                           "bold yellow" if armed == spec.name else style),
                          (" " + _bar(board.unit(i), width) + " ", "cyan"),
                          (f"{board.label(i):>{_VALUE_W}}", style)))
        return lines

    def _rows(self, width, height):
        """The screen as ``height`` rows of ``(text, style)`` pieces, ``width`` cells each."""
        s = self.session
        left_w = self._left_w = width * 3 // 5
        right_w = width - left_w
        body = max(0, height - 1 - _STATUS_H)
        self._params_shown = min(len(s.board.specs), body - 2)
        self._bar_w = max(8, left_w - 4 - _NAME_W - _VALUE_W - 2)
        shown = self.shown
        shown["params"] = self.params_lines()
        shown["meters"] = _meters(s)
        shown["midi"] = _midi(s)
        shown["status"] = _status(s)
        meters_h = min(body, 2 + len(shown["meters"]))
        left = _box(_PARAMS_TITLE, shown["params"], left_w, body)
        right = (_box("meters", shown["meters"], right_w, meters_h)
                 + _box("MIDI", shown["midi"], right_w, body - meters_h))
        rows = [_fit(((s.title.ljust(width), _TITLE),), width)]  # a full-width bar
        rows += [a + b for a, b in zip(left, right)]
        rows += _box(_STATUS_TITLE, shown["status"], width, height - len(rows))
        return rows[:height]

    # the mouse: a click sets a parameter, the wheel nudges the row under the pointer
    def on_click(self, event):
        row, u = self._param_at(event.x, event.y)
        if row is not None:
            self.session.board.selected = row
            if 0.0 <= u <= 1.0:
                self.session.board.set_unit(row, u)

    def on_mouse_scroll_up(self, event):
        row, _ = self._param_at(event.x, event.y)
        if row is not None:
            self.session.board.nudge(1, row=row)

    def on_mouse_scroll_down(self, event):
        row, _ = self._param_at(event.x, event.y)
        if row is not None:
            self.session.board.nudge(-1, row=row)

    def _param_at(self, x, y):
        """(parameter row, position 0..1 along its bar) under cell (x, y), or (None, None)."""
        row = y - 2  # the title row, the panel's top border
        if not (0 <= row < self._params_shown) or not 2 <= x < self._left_w - 2:
            return None, None
        return row, (x - 2 - _NAME_W - 1) / self._bar_w


def _meters(s):
    now, peak, median, xruns = s.dsp()
    lines = []
    for k, name in enumerate(("out", "in")):
        if name == "in" and not s.has_input:
            continue
        pk, rms = s.db(2 * k), s.db(2 * k + 1)
        lines.append(((f"{name:<4} {_db_bar(pk, 14)}", "red" if pk > -0.5 else "green"),
                      (f" {_db(pk)} pk {_db(rms)} rms", "")))
    lines.append(((f"DSP  {_bar(min(now, 100.0) / 100.0, 14)}", "red" if now > 80 else "cyan"),
                  (f" {now:5.1f} % of {s.period_ms:.2f} ms", "")))
    lines.append(((f"max  {_spark(s.load_history)}", "cyan"), (f" {peak:5.1f} % (1 s)", "")))
    lines.append(((f"median {median:.1f} %  ", ""),
                  (f"xruns {xruns}", "bold red" if xruns else ""),
                  (f"  voices {s.voices}", "")))
    return lines


def _midi(s):
    activity = s.midi_activity
    lines = [((f"{s.midi_count} messages", "bold"),)]
    for i, line in enumerate(activity.lines):
        lines.append(((line, "bold" if i == activity.latest else ""),))
    return lines


def _status(s):
    return [((s.piano.describe(), ""),), ((s.messages[-1] if s.messages else "", "yellow"),)]


def _box(title, lines, width, height):
    """``lines`` in a rounded box ``width`` x ``height`` cells titled ``title``, as ``height``
    rows of pieces (lines that do not fit are cut)."""
    if height <= 0 or width < 4:
        return [(((" " * max(0, width)), ""),) for _ in range(max(0, height))]
    top = _fit((("╭─ ", _BORDER), (title, "bold"), (" ", "")), width - 1, pad=False)
    used = sum(cell_len(t) for t, _ in top)
    rows = [top + (("─" * (width - 1 - used) + "╮", _BORDER),)]
    left, right = ("│ ", _BORDER), (" │", _BORDER)
    for i in range(height - 2):
        rows.append((left,) + _fit(lines[i] if i < len(lines) else (), width - 4) + (right,))
    if height > 1:
        rows.append((("╰" + "─" * (width - 2) + "╯", _BORDER),))
    return rows


def _fit(line, width, pad=True):
    """``line``'s pieces cut to ``width`` cells (the last kept cell an ellipsis) and, with
    ``pad``, padded with spaces to exactly ``width``."""
    out, used = [], 0
    for text, style in line:
        n = cell_len(text)
        if used + n > width:
            if width > used:  # the cell left for an ellipsis
                out.append((set_cell_size(text, width - used - 1) + "…", style))
            return tuple(out)
        out.append((text, style))
        used += n
    if pad and used < width:
        out.append((" " * (width - used), ""))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _style(name):
    return Style.parse(name) if name else Style.null()


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
