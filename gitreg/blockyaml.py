"""A fast reader of the block YAML gitreg's dumper writes, whole (issue 16).

A promotion reads every manifest of its model: PyYAML builds each node in Python, about
1 ms a manifest, 50 ms at 50 versions. gitreg writes manifests in a small part of YAML:
block mappings and sequences (a sequence in a mapping at the key's indentation), keys
and values on one line, plain or single-quoted scalars, `{}` and `[]`. `load(text)`
reads exactly that and returns None as soon as the text uses anything else (double
quotes, multi-line or block scalars, flow collections, anchors, aliases, tags, comments,
blank lines, tabs, document markers, a plain scalar PyYAML would read as a date, an
octal, a sexagesimal or anything but a string, a decimal int, a float, a bool or null);
the caller then parses it with PyYAML. Plain scalars are resolved by PyYAML's own
resolver, so the answer is PyYAML's (tests compare the two, types included, on generated
registries, random dumps and a table of awkward documents).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# what PyYAML's reader refuses or reads as a line break (and tabs, \r): left to PyYAML
_AWKWARD = re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")
_KEY = re.compile(r"('(?:[^']|'')*'|[^\s\-?:,\[\]{}#&*!|>'\"%@`][^:#]*?|-[^\s:#][^:#]*?):(?: (.*))?")
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}


class _Unsupported(Exception):
    pass


def load(text: str) -> Any | None:
    """The document PyYAML's safe loader reads from text, or None: not in gitreg's form."""
    if not text.endswith("\n") or _AWKWARD.search(text):
        return None
    lines = text[:-1].split("\n")
    try:
        value, end = _node(lines, 0, _indent(lines[0]))
    except (_Unsupported, IndexError, RecursionError):
        return None
    return value if end == len(lines) and isinstance(value, dict) else None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _node(lines: list[str], i: int, n: int, first: str | None = None) -> tuple[Any, int]:
    """The mapping or sequence whose lines start at column n from line i (first: the
    content of line i when it follows a sequence item's `- ` on that line)."""
    content = first if first is not None else lines[i][n:]
    if _is_item(content):
        return _seq(lines, i, n, first)
    return _map(lines, i, n, first)


def _content(lines: list[str], i: int, n: int, first: str | None) -> tuple[str | None, None]:
    """Line i's content from column n (None: it belongs to an outer block), and no first."""
    if first is not None:
        return first, None
    ind = _indent(lines[i])
    if ind > n:
        raise _Unsupported  # a continued scalar, or a structure YAML refuses
    return (lines[i][n:] if ind == n else None), None


def _map(lines: list[str], i: int, n: int, first: str | None) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines):
        content, first = _content(lines, i, n, first)
        if content is None:
            break
        if _is_item(content):
            raise _Unsupported  # a sequence where a key was due
        match = _KEY.fullmatch(content)
        if match is None:
            raise _Unsupported
        key = _scalar(match.group(1))
        if type(key) is not str:
            raise _Unsupported  # a key JSON and gitreg do not have
        rest = match.group(2)
        i += 1
        if rest is not None:
            out[key] = _value(rest)
            continue
        if i < len(lines) and _indent(lines[i]) > n:
            out[key], i = _node(lines, i, _indent(lines[i]))
        elif i < len(lines) and _is_item(lines[i][n:]) and _indent(lines[i]) == n:
            out[key], i = _seq(lines, i, n, None)  # a sequence at the key's indentation
        else:
            out[key] = None
    return out, i


def _seq(lines: list[str], i: int, n: int, first: str | None) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines):
        content, first = _content(lines, i, n, first)
        if content is None or not _is_item(content):
            break  # the block ends, or the next key of the mapping this is the value of
        rest = content[2:]
        if rest == "" or rest.startswith(" "):
            raise _Unsupported  # "-" alone, or more spaces: left to PyYAML
        if _is_item(rest) or _KEY.fullmatch(rest):
            item, i = _node(lines, i, n + 2, rest)
        else:
            item, i = _value(rest), i + 1
        out.append(item)
    return out, i


def _value(text: str) -> Any:
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return _scalar(text)


def _scalar(text: str) -> Any:
    if text.startswith("'"):
        inner = text[1:-1]
        if len(text) < 2 or not text.endswith("'") or "'" in inner.replace("''", ""):
            raise _Unsupported
        return inner.replace("''", "'")
    if not text or text[0] in "-?:,[]{}#&*!|>'\"%@` " and not (text[0] == "-" and text[1:2] not in ("", " ")) \
            or text.endswith((" ", ":")) or ": " in text or " #" in text:
        raise _Unsupported
    return _plain(text)


@lru_cache(maxsize=8192)
def _plain(text: str) -> Any:
    """A plain scalar as PyYAML's safe loader constructs it, for the kinds read here."""
    import yaml

    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False))
    kind = tag.rsplit(":", 1)[-1]
    if kind == "str":
        return text
    if kind == "null":
        return None
    if kind == "bool":
        return _BOOLS[text.lower()]
    if kind == "int" and _INT.fullmatch(text):
        return int(text)
    if kind == "float" and _FLOAT.fullmatch(text):
        return float(text)
    raise _Unsupported
