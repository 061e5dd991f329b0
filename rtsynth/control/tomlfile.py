"""TOML files for mappings and presets: read with line-aware errors, write atomically.

tomllib reports syntax errors with a line and column but forgets where each
key came from; :func:`key_line` finds a key's line again with a light scan of
the source text (table headers and ``key =`` lines), so a semantic error can
name the file, the line and the key.
"""

import os
import re
import tempfile
import tomllib
from pathlib import Path

from rtsynth.errors import InputError

__all__ = ["read_toml", "write_toml", "dumps", "key_line", "where"]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("([^"]+)"|'([^']+)'|[A-Za-z0-9_.-]+)\s*=""")


def read_toml(path, what):
    """Parse ``path``; return ``(data, text)``.

    Raises
    ------
    InputError
        ``path``: missing, unreadable, or a TOML syntax error (with its line and column).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: expected {what} (TOML), found no such file.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: expected a readable UTF-8 TOML file, found {e}.") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        # tomllib's message already ends with "(at line L, column C)"
        raise InputError(f"{path}: expected valid TOML, found {e}.") from None


def write_toml(path, data):
    """Write ``data`` as TOML to ``path`` atomically: a temporary file beside it, then a rename.

    Lists of tables are written as ``[[name]]`` blocks (one entry per block,
    its sub-tables as ``[name.sub]``), so every key has its own line, as a
    person would write it and as error messages point to. A reader (or a
    crash) never sees a half-written file.
    """
    path = Path(path)
    text = dumps(data)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise InputError(f"{path}: expected a writable folder, found {e.strerror or e}.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def dumps(data):
    """``data`` as TOML text (tomli_w for values; ``[[table]]`` blocks for lists of tables)."""
    import tomli_w

    scalars = {k: v for k, v in data.items() if not _is_table_list(v)}
    parts = [tomli_w.dumps(scalars)]
    for key, items in data.items():
        if not _is_table_list(items):
            continue
        for item in items:
            plain = {k: v for k, v in item.items() if not isinstance(v, dict)}
            parts.append(f"\n[[{key}]]\n" + tomli_w.dumps(plain))
            for sub, table in item.items():
                if isinstance(table, dict):
                    parts.append(f"[{key}.{sub}]\n" + tomli_w.dumps(table))
    return "".join(parts)


def key_line(text, table=None, index=None, key=None):
    """1-based line of ``key`` in the ``index``-th ``[[table]]`` (or ``[table]``), or 0.

    ``table=None`` looks at the top level (before the first header). Without
    ``key`` the header line itself is returned. Sub-tables of the entry
    (``[table.sub]``) count as part of it. A quoted or dotted key works;
    keys inside inline tables are not found (0: the caller names the table).
    """
    count, inside = -1, table is None
    for n, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            name = m.group(2).strip().strip('"').strip("'")
            if table is not None and name == table:
                count += 1
                inside = index is None or count == index
                if inside and key is None:
                    return n
            elif table is not None and name.startswith(table + "."):
                pass  # a sub-table of the current entry: still inside it
            else:
                inside = False
            continue
        if inside and key is not None:
            k = _KEY.match(line)
            if k and (k.group(2) or k.group(3) or k.group(1)) == key:
                return n
    return 0


def where(path, text, table=None, index=None, key=None):
    """``"FILE:LINE"`` for a key (falling back to its table's header line), or just ``FILE``."""
    line = key_line(text, table, index, key) if text else 0
    if not line and key is not None and text:
        line = key_line(text, table, index)
    return f"{path}:{line}" if line else str(path)


def _is_table_list(v):
    return isinstance(v, list) and bool(v) and all(isinstance(t, dict) for t in v)
