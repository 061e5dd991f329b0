"""Fuzz the CC map loader (TOML mapping files) with malformed files: an InputError naming
the file, or a valid mapping, and nothing else.

Cases are the shipped default maps broken line by line (``tests/tomlfuzz.py``):
values of the wrong type or range, nan/inf, dropped, duplicated and swapped
lines, unknown keys and tables, truncation, random bytes.
"""

from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings

from rtsynth.control.mapping import Mapping, load_mapping
from rtsynth.errors import InputError
from tomlfuzz import broken_toml

TEXTS = {name: resources.files("rtsynth.control").joinpath("data", f"{name}_default_map.toml")
         .read_text(encoding="utf-8") for name in ("canne", "anne")}
FUZZ = settings(max_examples=1500, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


def check(path, raw):
    path.write_bytes(raw)
    try:
        m = load_mapping(path)
    except InputError as e:
        msg = str(e)
        assert msg.startswith(str(path)) and "expected" in msg and "\n" not in msg, msg
        return
    assert isinstance(m, Mapping)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_malformed_mapping_files_raise_only_input_error(tmp_path, name):
    @FUZZ
    @given(raw=broken_toml(TEXTS[name]))
    def run(raw):
        check(tmp_path / "map.toml", raw)

    run()
