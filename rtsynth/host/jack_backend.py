"""JACK backend: a client with ``out_1``, ``out_2``, a JACK MIDI input ``midi_in``, and ``in_1``
for an engine that needs input (the ANNe effect).

MIDI arrives in the process callback itself, each event with its frame offset
within the period, so notes and knobs land on their exact sample (JACK MIDI
is sample-accurate). The callback follows design.md: no allocation of
containers, no I/O, no locks; it parses each event with
:func:`rtsynth.control.parse_message`, maps it with the CommandMapper into
preallocated :class:`~rtsynth.host.runtime.EventSlots`, renders with
:func:`rtsynth.engine.schedule.render_with_events` into ``out_1`` and copies
that to ``out_2``. A duplex engine first gets the period of ``in_1`` through
``engine.feed``; ports in one JACK cycle all carry the same frames, so the
effect's delay from ``in_1`` to ``out_1`` is exactly ``engine.latency_samples``.

Stopping: JACK2's ``jack_deactivate`` ends a client's process thread with
``pthread_cancel``. If that thread is inside the Python callback, or waiting
for the interpreter lock to enter it (a callback that runs late, as under a
MIDI storm on a loaded machine), the cancellation lands in the interpreter
and ``jack_deactivate`` never returns: Ctrl-C hung. So :meth:`JackHost.stop`
first has the callback end its own thread (it raises ``jack.CallbackExit``:
the thread returns to libjack, which deactivates the client and exits the
thread outside Python), and only then deactivates, which has nothing left
to cancel.
"""

import threading
import time

from ..control import CommandMapper, parse_message
from ..engine.schedule import render_with_events
from ..errors import DeviceError
from .midi_watch import JackMidiWatch
from .runtime import DspMeter, EventSlots, default_automation

__all__ = ["JackHost", "jack_server_running", "open_client", "DEFAULT_NAME"]

DEFAULT_NAME = "rtsynth"

#: seconds for libjack to finish ending the process thread the callback left
_END_GRACE = 0.1


def _quiet_jack():
    import jack

    jack.set_error_function(lambda msg: None)
    jack.set_info_function(lambda msg: None)


def _loud_jack():
    import jack

    jack.set_error_function()
    jack.set_info_function()


def open_client(name, servername=None, quiet=True):
    """Open a JACK client without starting a server; DeviceError (one sentence) when none runs.

    libjack's own messages stay silenced while ``quiet`` (until :func:`_loud_jack`),
    so a server going away is reported in one sentence, not a screenful.
    """
    try:
        import jack
    except (ImportError, OSError) as e:
        raise DeviceError(f"backend=jack: expected the JACK library (libjack, Debian package "
                          f"jackd2), found it missing ({e}).") from None
    _quiet_jack()
    try:
        return jack.Client(name, no_start_server=True, servername=servername)
    except jack.JackError as e:
        raise DeviceError(f"backend=jack: expected a running JACK server, found none "
                          f"({' '.join(str(e).split())}); start one with jackd or use "
                          f"--backend portaudio.") from None
    finally:
        if not quiet:
            _loud_jack()


def jack_server_running(servername=None):
    """True when a JACK client can connect (never starts a server)."""
    try:
        client = open_client("rtsynth-probe", servername, quiet=False)
    except DeviceError:
        return False
    client.close()
    return True


class JackHost:
    """Run ``engine`` as a JACK client until stopped.

    Parameters
    ----------
    engine : object
        ``process``/``apply`` (a CanneSynth or a Chain), built for the
        server's rate; with ``needs_input`` it also gets ``in_1`` (``feed``).
    client : jack.Client
        Opened with :func:`open_client` (not yet active).
    mapper : rtsynth.control.CommandMapper, optional
    connect : bool
        Connect ``out_1``/``out_2`` to the physical playback ports (and
        ``in_1`` from the first physical capture port).
    midi_in : str, optional
        Connect every JACK MIDI output port whose name contains this
        (case-insensitive) to ``midi_in``; none matching -> DeviceError listing them.
    queue : rtsynth.control.EventQueue, optional
        Raw MIDI from other threads (a performance player), applied at offset 0.
    link : rtsynth.host.ui_link.UiLink, optional
        A live view's link: its commands are applied at offset 0, the MIDI
        handled is copied to its monitor, the block is metered into it.
    automation : rtsynth.control.Automation, optional
        Glides, presets and OSC inboxes (default: one for the mapper's parameters).
    """

    def __init__(self, engine, client, *, mapper=None, connect=False, midi_in=None,
                 queue=None, max_events=512, link=None, automation=None):
        import jack

        self.engine = engine
        self.client = client
        self.mapper = mapper or CommandMapper()
        self.queue = queue  # optional EventQueue of other sources (applied at offset 0)
        self._on_queued = self._queued  # bound once, not per block
        self.link = link
        self.meter = DspMeter()
        self.events = EventSlots(max_events)
        self.automation = automation or default_automation(self.mapper, client.samplerate, engine)
        self._engine_events = EventSlots(max_events)  # the automation's output
        self.shutdown = threading.Event()
        self.shutdown_reason = ""
        self.rate = client.samplerate
        self.blocksize = client.blocksize
        self.in_1 = (client.inports.register("in_1") if getattr(engine, "needs_input", False)
                     else None)
        self.out_1 = client.outports.register("out_1")
        self.out_2 = client.outports.register("out_2")
        self.midi = client.midi_inports.register("midi_in")
        self._connect = connect
        self._midi_in = midi_in
        self._midi_sources = self._match_midi(midi_in) if midi_in else []
        # sources of midi_in that go away come back connected (polled by the monitor loop)
        self.midi_watch = JackMidiWatch(client, self.midi, pattern=midi_in)
        self.error = None
        self._stopping = False  # set by stop(): the next callback ends the process thread
        self._ended = threading.Event()
        self._exit = jack.CallbackExit
        client.set_process_callback(self._process)
        client.set_xrun_callback(self._xrun)
        client.set_shutdown_callback(self._shutdown)
        client.set_blocksize_callback(self._blocksize)

    # ------------------------------------------------------------ callbacks
    def _process(self, frames):
        if self._stopping:
            self.out_1.get_array().fill(0.0)
            self.out_2.get_array().fill(0.0)
            self._ended.set()
            raise self._exit  # libjack ends this thread itself (see the module's docstring)
        t0 = time.perf_counter_ns()
        late = self.client.frames_since_cycle_start
        try:
            events = self.events
            events.clear()
            mapper = self.mapper
            if self.queue is not None and len(self.queue):
                events.offset = 0
                self.queue.drain(self._on_queued)
            link = self.link
            if link is not None and len(link.commands):
                events.offset = 0
                link.commands.drain(events)  # the view's commands, as if mapped from MIDI
            inp = self.in_1.get_array() if self.in_1 is not None else None
            if inp is not None:
                self.engine.feed(inp)
            for offset, data in self.midi.incoming_midi_events():
                msg = parse_message(data[:])
                if msg is not None:
                    events.offset = offset
                    mapper.map(msg[0], msg[1], msg[2], events)
                    if link is not None:
                        link.monitor.push(offset, msg[0], msg[1], msg[2])
            if self.automation is not None:  # glides, presets, OSC: "set" -> engine commands
                events = self.automation.run(events, frames, self._engine_events)
            out = self.out_1.get_array()
            render_with_events(self.engine, out, events, 0, frames)
            self.out_2.get_array()[:] = out
            if link is not None:
                link.measure(out, inp)
        except Exception as e:  # never let an exception stop the JACK thread silently
            if self.error is None:
                self.error = e
            self.out_1.get_array().fill(0.0)
            self.out_2.get_array().fill(0.0)
        self.meter.record(time.perf_counter_ns() - t0, frames, t0, late)
        if self.link is not None:  # the block's time, xruns and voices, for the view
            self.link.post(self.meter, self.engine)

    def _queued(self, offset, status, d1, d2):
        self.mapper.map(status, d1, d2, self.events)
        if self.link is not None:
            self.link.monitor.push(offset, status, d1, d2)

    def _xrun(self, delayed_usecs):
        self.meter.xrun(time.perf_counter_ns())

    def _shutdown(self, status, reason):
        self.shutdown_reason = reason or str(status)
        self.shutdown.set()

    def _blocksize(self, blocksize):
        self.blocksize = blocksize

    # ------------------------------------------------------------ control
    def _match_midi(self, name):
        ports = [p.name for p in self.client.get_ports(is_midi=True, is_output=True)]
        found = [p for p in ports if name.lower() in p.lower()]
        if not found:
            raise DeviceError(f"midi_in={name!r}: expected a JACK MIDI output port containing "
                              f"that name, found only: {', '.join(ports) or 'none'}.")
        return found

    def start(self):
        """Activate the client and make the requested connections."""
        import jack

        try:
            self.client.activate()
        except jack.JackError as e:
            raise DeviceError(f"backend=jack: expected to activate client {self.client.name!r}, "
                              f"found the server refused ({' '.join(str(e).split())}).") from None
        if self._connect:
            playback = self.client.get_ports(is_physical=True, is_input=True, is_audio=True)
            if not playback:
                raise DeviceError("connect=True: expected physical JACK playback ports, found none.")
            for port, dest in zip((self.out_1, self.out_2), playback * 2 if len(playback) == 1
                                  else playback):
                self.client.connect(port, dest)
            capture = self.client.get_ports(is_physical=True, is_output=True, is_audio=True)
            if self.in_1 is not None and capture:
                self.client.connect(capture[0], self.in_1)
        for src in self._midi_sources:
            self.client.connect(src, self.midi)

    def wait(self):
        """Block until Ctrl-C (returns) or a server shutdown (DeviceError)."""
        while not self.shutdown.wait(0.1):
            if self.error is not None:
                raise DeviceError(f"backend=jack: the audio callback failed "
                                  f"({type(self.error).__name__}: {self.error}).")
        raise DeviceError(f"backend=jack: expected the JACK server to keep running, found it "
                          f"shut down ({' '.join(self.shutdown_reason.split())}).")

    def stop(self, end_timeout=1.0):
        """End the process thread, then deactivate and close the client (safe after a
        server shutdown). A server that no longer runs cycles never lets the callback
        see the request: after ``end_timeout`` s the client is deactivated anyway."""
        if self.shutdown.is_set():
            return  # the server is gone: closing would block on a dead socket
        try:
            self._stopping = True
            if self._ended.wait(end_timeout):
                # libjack marks the client inactive right after the callback returns, then
                # tells the server; jack_deactivate is a no-op once it is inactive
                time.sleep(_END_GRACE)
                _drop_notifications(self.client)
            self.client.deactivate(ignore_errors=True)
            self.client.close(ignore_errors=True)
        finally:
            _loud_jack()


def _drop_notifications(client):
    """Unset the Python notification callbacks of an inactive ``client``.

    Closing a client cancels its notification thread the way deactivating
    cancels the process thread (see the module's docstring): one caught inside
    a Python callback (an xrun, a port disconnected by the deactivation) would
    hang the close the same way. JACK-Client has no public call to unset a
    callback, so this uses its cffi handles; without them nothing changes.
    """
    import jack

    lib, ffi = getattr(jack, "_lib", None), getattr(jack, "_ffi", None)
    ptr = getattr(client, "_ptr", None)
    if lib is None or ffi is None or not ptr:
        return
    for setter in ("jack_set_xrun_callback", "jack_set_buffer_size_callback",
                   "jack_set_port_registration_callback", "jack_set_port_connect_callback"):
        try:
            getattr(lib, setter)(ptr, ffi.NULL, ffi.NULL)  # refused (non-zero) while active
        except (AttributeError, TypeError):
            pass
    try:
        lib.jack_on_info_shutdown(ptr, ffi.NULL, ffi.NULL)
    except (AttributeError, TypeError):
        pass
