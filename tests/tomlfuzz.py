"""Hypothesis strategies that break TOML files line by line (for the loader fuzz tests).

:func:`broken_toml` starts from a valid file's text and drops, duplicates,
reorders or inserts lines, replaces values by other TOML values (wrong types,
nan/inf, huge numbers, dates, arrays, inline tables), renames keys, and
truncates the result; sometimes the file is random bytes instead.
"""

from hypothesis import strategies as st

__all__ = ["broken_toml", "TOML_VALUES"]

TOML_VALUES = st.one_of(
    st.sampled_from(['0', '-1', '1', '7', '14', '16', '17', '127', '128', '99999999999999999999',
                     '1.5', '-0.0', 'nan', 'inf', '-inf', '1e309', 'true', 'false', '"omni"',
                     '""', '"latent.0"', '"latent.99"', '"wet"', '"knob.a"', '"lin"', '"log"',
                     '"exp"', '[]', '[1, 2]', '[0.0, 1.0]', '["a", 1]', '{}', '{ a = 1 }',
                     '1979-05-27', '1979-05-27T07:32:00Z', "'''x'''", '"\\u00e9"', '0x7f',
                     '[[1], [2]]', '"cc"', '"note"', '"bend"', '"aftertouch"']),
    st.integers(-2**66, 2**66).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8).map(
        lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'))
_NAMES = st.sampled_from(["cc", "param", "bits", "channel", "curve", "min", "max", "glide",
                          "note", "name", "values", "format_version", "instrument", "map",
                          "preset", "description", "latent.0", "attack", "x", "index"])


@st.composite
def broken_toml(draw, text):
    """Bytes of a TOML file: ``text`` broken by a few random edits (or random bytes)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        op = draw(st.sampled_from(["value", "value", "value", "drop", "dup", "insert", "key",
                                   "table", "swap"]))
        line = lines[i] if lines else ""
        if op == "value" and "=" in line:
            lines[i] = line.split("=", 1)[0] + "= " + draw(TOML_VALUES)
        elif op == "drop" and lines:
            del lines[i]
        elif op == "dup" and lines:
            lines.insert(i, line)
        elif op == "insert":
            lines.insert(i, f"{draw(_NAMES)} = {draw(TOML_VALUES)}")
        elif op == "key" and "=" in line:
            lines[i] = f"{draw(_NAMES)} =" + line.split("=", 1)[1]
        elif op == "table":
            lines.insert(i, draw(st.sampled_from(["[[map]]", "[[preset]]", "[map]",
                                                  "[preset.values]", "[[preset.values]]", "[x]"])))
        elif op == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    data = "\n".join(lines).encode()
    if draw(st.integers(0, 5)) == 0:
        data = data[:draw(st.integers(0, len(data)))]
    return data
