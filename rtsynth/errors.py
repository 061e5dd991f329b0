"""The one exception hierarchy of rtsynth.

Every error rtsynth raises on purpose derives from :class:`RtsynthError`, so a
caller (the CLI above all) can catch one type and print one sentence. Messages
name the offending value as ``name=value``, say what was expected, and name the
file when there is one.
"""

__all__ = ["RtsynthError", "InputError", "ModelError", "DeviceError"]


class RtsynthError(Exception):
    """Root of every error rtsynth raises deliberately."""


class InputError(RtsynthError, ValueError):
    """A value passed in (array, option, file content) is not what was expected."""


class ModelError(RtsynthError):
    """A model bundle breaks the model contract (see design.md)."""


class DeviceError(RtsynthError):
    """An audio or MIDI device/port is missing, refused a setting, or went away."""
