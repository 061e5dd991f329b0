"""Shared fixtures: a seeded RNG and a private JACK dummy server."""

import os

import numpy as np
import pytest

import jackutil

__all__ = ["rng", "jack_server"]


@pytest.fixture
def rng():
    """A fresh, seeded numpy Generator per test, so tests are reproducible and independent."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def jack_server():
    """A private JACK dummy server (48 kHz, 256 frames) for the whole session.

    Yields a :class:`jackutil.JackServer` (``.name``, ``.rate``, ``.blocksize``)
    and sets ``JACK_DEFAULT_SERVER`` to its name while the session runs, so
    code that opens a client without naming a server finds this one. Without
    ``jackd`` the test is skipped, except under ``CI=true`` where a missing
    JACK is a broken setup and fails.
    """
    if jackutil.jackd_path() is None:
        reason = ("jackd is not installed (Debian package jackd2; `make setup` "
                  "installs it), so the JACK end-to-end tests cannot run")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " and CI=true requires them", pytrace=False)
        pytest.skip(reason)
    try:
        server = jackutil.start_server(rate=48000, blocksize=256)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    try:
        yield server
    finally:
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous
        jackutil.stop_server(server)
