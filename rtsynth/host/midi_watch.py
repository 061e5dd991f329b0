"""MIDI sources that go away and come back: noticed, said once, reconnected.

A performer unplugs a USB keyboard, or restarts the program that feeds
rtsynth's ``midi_in``; rtsynth keeps playing (the audio callback just sees no
MIDI), says so once, and reconnects when the source returns. Both watchers
are polled from the live session's monitor loop (:mod:`rtsynth.host.monitor`),
never from the audio callback; each :meth:`poll` returns the sentences to say.

- :class:`RtMidiWatch` (PortAudio backend): the rtmidi input ports rtsynth
  opened. A port whose name leaves the system's list is closed; when the name
  is listed again it is reopened with the same queue callback.
- :class:`JackMidiWatch` (JACK backend): the JACK MIDI output ports connected
  to ``midi_in``, whoever connected them (``--midi-in``, a patchbay, another
  program). One that is unregistered and registered again (its client
  restarted) is connected again; with ``--midi-in PATTERN`` every matching
  port that appears later is connected too. A connection the user removes by
  hand, with the port still there, is left alone.
"""

from .midi_ports import close_midi_inputs

__all__ = ["RtMidiWatch", "JackMidiWatch"]


class RtMidiWatch:
    """Reopen rtmidi inputs whose port disappeared, once it is back.

    Parameters
    ----------
    opened, names : list
        What :func:`rtsynth.host.midi_ports.open_midi_inputs` returned
        (virtual ports are skipped: they cannot go away).
    queue : rtsynth.control.EventQueue
        The queue the reopened ports push into.
    api : int, optional
        The rtmidi API the ports were opened with (None = rtmidi's default).
    """

    def __init__(self, opened, names, queue, api=None):
        from .midi_ports import midi_callback

        self._entries = [[m, n, False] for m, n in zip(opened, names)
                         if not n.endswith("(virtual)")]  # [MidiIn, port name, lost]
        self._callback = midi_callback(queue)
        if api is None and self._entries:  # the API the ports were found with (default or JACK)
            api = self._entries[0][0].get_current_api()
        # One MidiIn, made now (before the stream starts), lists the ports at every poll.
        # A new one per poll would open and close a client of the MIDI system each time,
        # and python-rtmidi holds the interpreter lock meanwhile: with JACK MIDI, closing
        # a client waits for the cycle to end while the audio callback, in that cycle,
        # waits for the lock (measured: PortAudio's client stalled for good).
        self._lister = None
        if self._entries:
            from .midi_ports import port_lister

            self._lister = port_lister(api)

    def poll(self):
        """Check the port list once; return the sentences to print (usually none)."""
        if not self._entries:
            return []
        ports = list(self._lister.get_ports())
        said = []
        for entry in self._entries:
            m, name, lost = entry
            if not lost and name not in ports:
                entry[2] = True
                close_midi_inputs([m])
                said.append(f"rtsynth: MIDI input {name!r} went away; playing on, and "
                            f"reconnecting when it returns.")
            elif lost and name in ports:
                try:
                    m.open_port(ports.index(name), name="midi_in")
                except Exception:
                    continue  # listed but not openable yet: try at the next poll
                m.set_callback(self._callback)  # closing the port dropped the callback
                entry[2] = False
                said.append(f"rtsynth: MIDI input {name!r} is back; reconnected.")
        return said


class JackMidiWatch:
    """Keep JACK MIDI sources connected to ``port`` across their restarts.

    Create it before the client is activated (it registers a port
    registration callback, which JACK only accepts then).

    Parameters
    ----------
    client : jack.Client
    port : jack.MidiPort
        rtsynth's own ``midi_in``.
    pattern : str, optional
        ``--midi-in``: also connect every JACK MIDI output port whose name
        contains this (case-insensitive) when it appears.
    """

    def __init__(self, client, port, pattern=None):
        self.client, self.port = client, port
        self.pattern = pattern.lower() if pattern else None
        self._known = set()   # sources seen connected to port
        self._lost = set()    # known sources whose port went away
        self._gone = []       # names unregistered since the last poll (JACK's thread appends)
        self._linked = []     # sources connected to port since the last poll (idem)
        client.set_port_registration_callback(self._registered, only_available=False)
        client.set_port_connect_callback(self._connected, only_available=False)

    # JACK's notification thread: no server calls allowed there, only note the names
    def _registered(self, port, register):
        if not register and port is not None:
            self._gone.append(port.name)

    def _connected(self, a, b, connect):
        # a source that connects and vanishes between two polls is still known
        if connect and a is not None and b is not None and b.name == self.port.name:
            self._linked.append(a.name)

    def poll(self):
        """Compare connections with the ports that exist; reconnect; return sentences to say."""
        gone, self._gone = self._gone, []
        linked, self._linked = self._linked, []
        self._known.update(linked)
        try:
            connected = {p.name for p in self.client.get_all_connections(self.port)}
            sources = {p.name for p in self.client.get_ports(is_midi=True, is_output=True)}
        except Exception:  # the server is going away: the monitor's health check reports it
            return []
        said = []
        for name in sorted(self._known - connected):
            if name in self._lost:
                continue
            if name in sources and name not in gone:
                self._known.discard(name)  # disconnected by hand: the user's choice
            else:
                self._lost.add(name)
                said.append(f"rtsynth: MIDI source {name!r} went away; playing on, and "
                            f"reconnecting when it returns.")
        wanted = {n for n in self._lost if n in sources}
        if self.pattern:
            wanted |= {n for n in sources - connected - self._known
                       if self.pattern in n.lower() and not n.startswith(self.client.name + ":")}
        for name in sorted(wanted):
            try:
                self.client.connect(name, self.port)
            except Exception:
                continue  # it vanished again meanwhile: the next poll sees it
            connected.add(name)
            if name in self._lost:
                self._lost.discard(name)
                said.append(f"rtsynth: MIDI source {name!r} is back; reconnected.")
        self._known |= connected
        return said
