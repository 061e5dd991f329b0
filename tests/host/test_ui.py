"""The performer view (``play --ui``): starts and stops headless, the computer keyboard plays
notes that sound, arrow keys move parameters, meters and MIDI activity reach the view.

The view runs under textual's test pilot against a stand-in host that drives a
real CanneSynth (a small harmonic test bundle) through the same per-block steps
as the live backends (the link's commands into the event slots, the
automation, render, meter, post); the view reads the shared link as the view's
process does (a LinkReader's snapshots, through JSON), and its commands go back
as the pipe carries them (JSON lists).
"""

import asyncio
import gc
import json
import time

import numpy as np
import pytest

from synth_bundles import make_synth_bundle
from viewpty import ViewProcess

pytest.importorskip("textual")

from rtsynth.engine import CanneSynth  # noqa: E402
from rtsynth.engine.schedule import render_with_events  # noqa: E402
from rtsynth.host.keyboard import KeyboardPiano  # noqa: E402
from rtsynth.host.runtime import DspMeter, EventSlots  # noqa: E402
from rtsynth.host.ui import LiveView  # noqa: E402
from rtsynth.host.ui_bridge import Publisher, View  # noqa: E402
from rtsynth.host.controls import build_controls  # noqa: E402
from rtsynth.host.ui_link import LinkReader, UiLink  # noqa: E402
from rtsynth.host.ui_params import view_specs  # noqa: E402
from rtsynth.host.ui_session import MidiActivity, ViewSession  # noqa: E402
from rtsynth.model import load_bundle  # noqa: E402

RATE, BLOCK = 22050, 256


class FakeHost:
    """The per-block work of JackHost._process, offline: what the view sees of a host."""

    def __init__(self, engine, link, automation):
        self.engine, self.link, self.automation = engine, link, automation
        self.meter, self.events, self._engine_events = DspMeter(1024), EventSlots(), EventSlots()
        self.rate, self.blocksize = RATE, BLOCK
        self.audio = []

    def process(self, blocks=1):
        for _ in range(blocks):
            self.events.clear()
            self.events.offset = 0
            self.link.commands.drain(self.events)
            events = self.automation.run(self.events, BLOCK, self._engine_events)
            out = np.zeros(BLOCK, np.float32)
            render_with_events(self.engine, out, events, 0, BLOCK)
            self.link.measure(out)
            self.meter.record(1_000_000, BLOCK)  # 1 ms of a 11.6 ms period
            self.link.post(self.meter, self.engine)
            self.audio.append(out)
        return np.concatenate(self.audio[-blocks:])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(make_synth_bundle(tmp_path_factory.mktemp("ui") / "b", n_fft=1024,
                                         sample_rate=RATE))


def _json(x):
    return json.loads(json.dumps(x))


def _session(bundle):
    """A view session wired to a FakeHost through its shared link and a Publisher, as
    ``play --ui`` wires the two processes."""
    synth = CanneSynth(bundle, sample_rate=RATE, polyphony=4)
    automation = build_controls("canne", bundle.manifest).attach(synth)
    link = UiLink([s.name for s in automation.specs])
    link.configure(RATE, BLOCK)
    link.share_values(automation)
    host = FakeHost(synth, link, automation)
    pub = Publisher(host, link, view_specs("canne", bundle.manifest))
    init = _json(pub.init("test"))
    reader = LinkReader(UiLink.attach(init["link"]["fd"], init["link"]["layout"]), init["rate"])
    session = ViewSession(pub.specs, lambda cmd: pub.command(_json(cmd)), title=init["title"],
                          period_ms=init["period_ms"], has_input=init["has_input"])
    session.poll = lambda: [_json(reader.snapshot(pub.said()))]
    session.pub = pub
    return session, host


def _run(coro):
    return asyncio.run(coro)


def _drive(session, steps, poll=None, fps=30):
    """Run the view headless (120 x 36) over ``session``: ``await steps(app, pilot)``,
    then Ctrl-C; returns what ``steps`` returned."""
    async def scenario():
        app = LiveView(session, session.poll if poll is None else poll, fps=fps)
        async with app.run_test(size=(120, 36)) as pilot:
            result = await steps(app, pilot)
            await pilot.press("ctrl+c")
            await pilot.pause()
        return result

    return _run(scenario())


def test_view_starts_and_stops_headless(bundle):
    session, host = _session(bundle)

    async def steps(app, pilot):
        await pilot.pause(0.1)
        assert app.canvas.text("params").startswith("latent.0")
        return app

    app = _drive(session, steps)
    assert app.return_code in (0, None)


def test_computer_keyboard_plays_notes_that_sound(bundle):
    session, host = _session(bundle)
    # a tap sounds 0.6 s; on a loaded machine the pilot took longer than that between
    # two presses (CI, stop 18), so the test holds taps until it releases them itself
    session.piano.first_hold = session.piano.hold = 60.0
    silent = host.process(8)
    assert np.max(np.abs(silent)) == 0.0

    async def steps(app, pilot):
        await pilot.press("z", "e")  # C3 and E4
        assert session.piano.sounding == [48, 64]
        sound = host.process(40)
        await pilot.pause(0.2)  # a few view frames: the meters follow the sound
        return sound, app.canvas.text("meters")

    sound, meters = _drive(session, steps)
    rms = float(np.sqrt(np.mean(sound.astype(np.float64) ** 2)))
    assert rms > 1e-3, rms
    assert host.engine.active_voices == 2 or session.piano.sounding == []
    assert session.db(0) > -40.0  # the output peak, as the view shows it
    assert "DSP" in meters and "xruns 0" in meters
    # the notes are released by timeout once their keys stop repeating
    session.tick(1e12)
    host.process(1)
    assert session.piano.sounding == []
    host.process(200)
    assert host.engine.active_voices == 0


def test_every_meter_line_is_on_screen_with_an_input(bundle):
    """An effect's view has an input meter too: its panel grows so the xrun count stays
    visible (a fixed height hid that line for ANNe before stop 18)."""
    session, host = _session(bundle)
    session = ViewSession(session.board.specs, lambda cmd: True, title="fx", period_ms=5.3,
                          has_input=True)
    snap = {"levels": [0.5, 0.1, 0.25, 0.05], "load_now": 12.0, "load_max": 30.0,
            "load_median": 15.0, "xruns": 3, "voices": 0, "values": {}, "midi": [], "say": []}

    async def steps(app, pilot):
        await pilot.pause(0.2)
        return app.export_screenshot()

    svg = _drive(session, steps, poll=lambda: [snap]).replace("&#160;", " ")
    for text in ("out ", "in ", "DSP", "median 15.0 %", "xruns 3"):
        assert text in svg, text


def test_a_moved_parameter_redraws_only_its_line(bundle):
    """The view asks textual to repaint only the screen rows that changed: a knob move
    is one row (the parameter's: below the title and the panel's top border)."""
    session, host = _session(bundle)
    repainted = []

    async def steps(app, pilot):
        await pilot.pause(0.1)
        app._frame(tick=False)  # the first frame came before the layout set the widths
        app.canvas.refresh = lambda *regions, **kw: repainted.extend(regions)
        app._frame(tick=False)
        assert repainted == []  # nothing moved
        session.board.nudge(1, row=3)
        app._frame(tick=False)

    _drive(session, steps, poll=lambda: [], fps=1)
    assert [(r.y, r.height, r.width) for r in repainted] == [(2 + 3, 1, 120)]


def test_a_click_on_a_bar_sets_its_parameter(bundle):
    """The mouse: a click on a parameter's bar selects it and sets it to that point."""
    session, host = _session(bundle)

    async def steps(app, pilot):
        await pilot.pause(0.1)
        bar_w = app.canvas._bar_w
        # the bar of row 4 starts after the border, the padding, the name and a space
        await pilot.click(offset=(2 + 10 + 1 + bar_w // 2, 2 + 4))
        await pilot.pause(0.05)
        return bar_w

    bar_w = _drive(session, steps)
    assert session.board.selected == 4
    assert session.board.unit(4) == pytest.approx((bar_w // 2) / bar_w, abs=0.02)


def test_arrow_keys_select_and_move_a_parameter(bundle):
    session, host = _session(bundle)
    engine = host.engine
    before = engine.latents.copy()

    async def steps(app, pilot):
        await pilot.press("down", "right", "right", "right")
        host.process(1)
        await pilot.press("up", "shift+left")
        host.process(1)

    _drive(session, steps)
    after = engine.latents
    lo, hi = np.asarray(bundle.manifest.latent_range).T
    assert after[1] == pytest.approx(before[1] + 3 * 0.02 * (hi[1] - lo[1]))
    assert after[0] == pytest.approx(max(lo[0], before[0] - 0.002 * (hi[0] - lo[0])))
    assert np.array_equal(after[2:], before[2:])
    assert session.board.selected == 0


def test_midi_activity_and_learn_without_a_learner(bundle):
    session, host = _session(bundle)
    host.link.monitor.push(0, 0xB0, 21, 64)
    host.link.monitor.push(0, 0x90, 60, 100)
    for snap in session.poll():
        session.apply(snap)
    assert session.midi_count == 2
    assert list(session.midi_activity) == ["ch1 CC 21 = 64", "ch1 note on  C4 100"]
    assert session.key("ctrl+l", 0.0) and "not available" in session.messages[-1]


def test_midi_learn_in_the_view_saves_and_remaps_the_running_host(bundle, tmp_path):
    from rtsynth.control.learn import MidiLearn
    from rtsynth.control.mapping import instrument_mapping, load_mapping
    from rtsynth.host.controls import build_controls
    from rtsynth.host.ui_session import LearnAdapter

    session, host = _session(bundle)
    host.mapper = build_controls("canne", bundle.manifest).mapper
    old = host.mapper
    path = tmp_path / "learned.toml"
    session.learn = LearnAdapter(MidiLearn(instrument_mapping("canne", False)), path,
                                 lambda p: session.send(["remap", str(p)]))
    session.board.selected = 3
    assert session.key("ctrl+l", 0.0) and session.armed == "latent.3"
    host.link.monitor.push(0, 0xB0, 70, 127)  # the performer turns CC 70
    for snap in session.poll():
        session.apply(snap)
    assert session.armed is None and "learnt cc 70 -> latent.3" in session.messages[-1]
    entries = {e.param: e for e in load_mapping(path).entries}
    assert entries["latent.3"].source == "cc" and entries["latent.3"].number == 70
    assert "latent.0" in entries  # the packaged map's other entries are kept
    assert host.mapper is not old  # the running host plays by the new file
    out = []
    assert host.mapper.map(0xB0, 70, 127, out) == 1 and old.map(0xB0, 70, 127, []) == 0


def test_publisher_refuses_commands_the_engine_does_not_take(bundle):
    session, host = _session(bundle)
    pub = Publisher(host, host.link, [])
    assert not pub.command(["open", "/etc/passwd"]) and not pub.command("note_on")
    assert not pub.command(["note_on", "60", 100]) and pub.refused == 3
    assert pub.command(["note_on", 60, 100]) and len(host.link.commands) == 1


def test_view_process_starts_and_ends_with_its_pipe(bundle):
    """The real view process under a pseudo-terminal: init, the shared link read while the
    host plays, a message line, quit -> exit 0."""
    session, host = _session(bundle)
    pub = Publisher(host, host.link, session.board.specs)
    view = ViewProcess(cols=100, rows=30, link=host.link)
    try:
        view.send({"init": pub.init("pty test")})
        for k in range(10):
            host.process(4)
            if k == 5:
                view.send({"say": ["a message from the audio process"]})
            time.sleep(0.1)
        view.send({"quit": True})
        assert view.proc.wait(timeout=30) == 0, b"".join(view.chunks)[-2000:]
    finally:
        view.close()
    assert b"parameters" in b"".join(view.chunks)
    assert b"a message from the audio process" in b"".join(view.chunks)


def test_midi_activity_keeps_one_line_per_source():
    """A turned knob updates its own line; new sources fill free lines, then the line
    least recently used; lines never move."""
    act = MidiActivity(3)
    for v in range(100):
        act.add(0xB0, 21, v)
    assert act.lines == ["ch1 CC 21 = 99", "", ""] and act.latest == 0
    act.add(0x90, 60, 100)
    act.add(0x80, 60, 0)  # the note off shares the notes' line
    act.add(0xB1, 21, 5)  # another channel: another source
    assert act.lines == ["ch1 CC 21 = 99", "ch1 note off C4", "ch2 CC 21 = 5"]
    act.add(0xB0, 21, 1)
    act.add(0xE0, 0, 80)  # full: takes the notes' line, used longest ago
    assert act.lines == ["ch1 CC 21 = 1", "ch1 bend +2048", "ch2 CC 21 = 5"]
    assert act.latest == 1 and list(act) == act.lines


def test_piano_layout_octaves_and_release_by_timeout():
    piano = KeyboardPiano(base=48, velocity=100, hold=0.15, first_hold=0.6)
    assert piano.press("z", 0.0) == [("note_on", 48, 100)]
    assert piano.press("z", 0.5) == []  # an auto-repeat holds the note
    assert piano.expire(0.6) == []
    assert piano.expire(0.66) == [("note_off", 48)]
    assert piano.press("q", 1.0) == [("note_on", 60, 100)]
    assert piano.press("equals_sign", 1.1) == [("note_off", 60)]  # octave up releases
    assert piano.press("q", 1.2) == [("note_on", 72, 100)]
    assert piano.press("right_square_bracket", 1.3) == [] and piano.velocity == 116
    assert piano.press("f", 1.4) is None  # not the piano's key


def test_meters_hold_peaks_and_fall():
    link = UiLink()
    link.configure(48000, 256)
    link.measure(np.full(256, 0.5, np.float32))
    assert link.levels[0] == pytest.approx(0.5) and link.levels[1] > 0
    for _ in range(188):  # one second of silence
        link.measure(np.zeros(256, np.float32))
    assert 20 * np.log10(link.levels[0]) == pytest.approx(20 * np.log10(0.5) - 20.0, abs=0.2)
    assert link.levels[2] == 0.0  # no input metered


def test_the_link_adds_no_allocation_to_the_jack_callback(bundle):
    """JackHost._process with a view's link: commands in, MIDI monitor and meters out,
    3,000 blocks under tracemalloc; nothing the host or the link allocates is kept."""
    import tracemalloc

    from test_rt_safety import _Client  # a JACK client stand-in (ports are numpy arrays)

    from rtsynth.host.jack_backend import JackHost

    synth = CanneSynth(bundle, sample_rate=48000, polyphony=4)
    link = UiLink()
    link.configure(48000, 256)
    host = JackHost(synth, _Client(), link=link)
    host.midi.events = [(0, bytes([0xB0, 21, 64])), (3, bytes([0x90, 60, 100]))]
    cmds = [("latent", 1, 0.3), ("note_on", 64, 90), ("note_off", 64), ("all_notes_off",)]

    def blocks(n):
        for i in range(n):
            link.send(cmds[i % len(cmds)])  # the view's side (it makes the tuples)
            host._process(256)
            link.monitor.clear()  # the view's side: it drains the monitor

    blocks(300)
    gc.collect()
    tracemalloc.start(1)
    try:
        blocks(300)  # what the path keeps (a counter's boxed int) is now traced
        gc.collect()
        before = tracemalloc.take_snapshot()
        blocks(3000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert host.error is None and host.meter.count == 3600
    mine = [tracemalloc.Filter(True, "*/rtsynth/host/jack_backend.py"),
            tracemalloc.Filter(True, "*/rtsynth/host/ui_link.py")]
    diff = after.filter_traces(mine).compare_to(before.filter_traces(mine), "lineno")
    grown = [str(d) for d in diff if d.size_diff > 0][:10]
    # bounded state may differ, as in test_rt_safety (an int above 256 is a new object:
    # 56 bytes once in CI when tracing began after the warm-up); one object kept per
    # block would be 3,000 on its line
    assert sum(d.size_diff for d in diff) <= 1024, grown
    assert max((d.count_diff for d in diff), default=0) <= 8, grown
    assert link.levels[0] > 0 and len(link.commands) == 0


def test_view_process_is_started_before_the_stream_and_closed_unrun():
    """run_live starts the view's process before the audio stream (its fork and imports
    land before the first block) and closes it if the stream never ran."""
    view = View([], None)
    view.start()
    proc = view.proc
    view.start()  # once
    assert view.proc is proc
    time.sleep(0.5)
    assert proc.poll() is None  # waiting for its first message, not drawing yet
    view.close()
    view.close()  # safe to call again
    assert proc.returncode == 1  # it was told to quit before any session began


def test_link_reader_sees_the_callbacks_writes_through_another_mapping(bundle):
    """What the callback posts (block times, xruns, voices, MIDI, values) is what a reader
    on a second mapping of the shared memory (the view's process) sees; a reader a whole
    ring behind gets the newest ring's worth."""
    synth = CanneSynth(bundle, sample_rate=RATE, polyphony=4)
    automation = build_controls("canne", bundle.manifest).attach(synth)
    link = UiLink([s.name for s in automation.specs], monitor_capacity=16)
    link.share_values(automation)
    reader = LinkReader(UiLink.attach(link.fd, json.loads(json.dumps(link.layout()))), RATE)
    meter = DspMeter(1 << 13)
    period_ns = 1e9 * BLOCK / RATE
    for k in range(3000):  # k % 100 % of the period
        meter.record(int(round(period_ns * (k % 100) / 100)), BLOCK)
        link.post(meter, synth)
    meter.xrun()
    synth.note_on(60, 100)
    link.post(meter, synth)  # a block that took 99 % again
    for k in range(20):
        link.monitor.push(0, 0xB0, 21, k)
    automation.run([(0, automation.command("latent.1", 0.25))], BLOCK, EventSlots())
    snap = reader.snapshot(["hello"])
    assert snap["load_now"] == pytest.approx(99.0, abs=0.01)
    assert snap["load_max"] == pytest.approx(99.0, abs=0.01)
    median = np.median([k % 100 for k in range(3000 - 2048, 3000)])  # the last 2048 blocks
    assert snap["load_median"] == pytest.approx(median, abs=0.01)
    assert snap["xruns"] == 1 and snap["voices"] == 1 and snap["say"] == ["hello"]
    assert snap["midi"] == [(0xB0, 21, k) for k in range(4, 20)]  # the newest 16
    assert snap["values"]["latent.1"] == 0.25
    again = reader.snapshot()
    assert again["load_now"] is None and again["midi"] == []
    with pytest.raises(ValueError, match="expected the automation's parameters"):
        UiLink(["volume"]).share_values(automation)
