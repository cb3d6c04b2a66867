"""A fast reader of the few manifest fields a registry summary needs (issue 6).

`gitreg list` on a cold cache summarises every manifest (20,000 at 1000 x 20): PyYAML
builds every node of every document, seconds of work and hundreds of MB at once. The
summary needs only `name`, `version`, `stage`, `created_at`, `aliases` and each history entry's
`seq`, `action` and `to`. `scan(text)` reads those from the plain block YAML that
gitreg's dumper writes, and returns None as soon as the text uses anything else
(double quotes, multi-line or flow values, anchors, tags, comments in values, tabs,
non-string scalars where strings are expected, an unusual layout): the caller then
parses it with PyYAML, so the answer is the one PyYAML gives (tests compare the two on
generated registries, random dumps and a table of awkward manifests). The one leniency:
nested lines it skips are not checked, so a manifest PyYAML rejects there may still get
a summary; `gitreg validate` and every command that reads the manifest in full reject it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(?: +(.*?))? *$")
_WANTED = ("name", "version", "stage", "created_at")
_ITEM_WANTED = ("seq", "action", "to")


class _Unsupported(Exception):
    pass


@lru_cache(maxsize=4096)
def _plain(value: str) -> Any:
    """A plain scalar as PyYAML's SafeLoader resolves it: str, int (digits) or None."""
    if value[0] in "'\"|>&*!{[%@`#?:,-" or " #" in value or ": " in value or value.endswith(":"):
        raise _Unsupported
    import yaml

    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return value
    if tag == "tag:yaml.org,2002:int" and value.isdigit() and (value == "0" or value[0] != "0"):
        return int(value)
    if tag == "tag:yaml.org,2002:null":
        return None
    raise _Unsupported


def _scalar(value: str | None) -> Any:
    if not value:
        return None
    if value[0] == "'":
        if len(value) < 2 or value[-1] != "'" or "'" in value[1:-1].replace("''", ""):
            raise _Unsupported
        return value[1:-1].replace("''", "'")
    return _plain(value)


def scan(text: str) -> dict[str, Any] | None:
    """{"name", "version", "stage", "created_at", "aliases"?, "history": [{"seq", "action", "to"}]}
    as PyYAML would read them, or None when the text is not in gitreg's plain form."""
    if '"' in text or "\t" in text or "\r" in text or "&" in text or "*" in text:
        return None
    try:
        if _STRICT.fullmatch(text):
            return _extract(text)
        return _scan(text)
    except _Unsupported:
        return None


# The strict form: exactly the layout gitreg's dumper writes (one space after each colon,
# values plain or single-quoted without '' escapes, no comments, blank lines or flow
# collections but {} and [], every history entry starting `- seq: N`). Text in it is
# checked by one regex and its fields picked by a few more (issue 16: 100,000 manifests);
# they are what _scan reads from the same text (tests compare the two). Anything else
# goes through _scan.
_K = r"[A-Za-z_][A-Za-z0-9_]*"
_V = (r"(?:'[^'\n ]*(?: +[^'\n #][^'\n ]*)*'|\{\}|\[\]|"
      r"[^\s'\"|>!&*%@`{\[\]}#,?:\-][^\s'\":]*(?:[: ][^\s'\"#:][^\s'\":]*)*)")
_KV = rf"{_K}:(?: {_V})?\n"
_EVEN = r"[^\n']*(?:'[^\n']*'[^\n']*)*\n"  # a line with an even number of apostrophes
_STRICT = re.compile(
    rf"(?:(?!history:|aliases:){_K}:\n(?:[ -]{_EVEN})*"
    rf"|(?!history:|aliases:){_K}: {_V}\n(?: {_EVEN})*"
    rf"|history: \[\]\n|history:\n(?:- seq: (?:0|[1-9][0-9]*)\n(?:  {_KV}|  - {_V}\n|   {_EVEN})*)*"
    rf"|aliases: \[\]\n|aliases:\n(?:- {_V}\n)+)+")
# every line _extract looks at: a top-level key, an entry's start, an entry's wanted key,
# an item of a top-level sequence (aliases)
_LINE = re.compile(r"^(?:([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?|- seq: ([0-9]+)|  (seq|action|to):(?: (.*))?|- (.*))$",
                   re.M)


def _extract(text: str) -> dict[str, Any] | None:
    """_scan's answer for text in the strict form (the later of repeated keys wins, as there)."""
    top: dict[str, Any] = {}
    history: list[dict[str, Any]] | None = None
    aliases: list[Any] = []
    item: dict[str, Any] = {}
    section = ""
    for key, value, seq, entry_key, entry_value, dash in _LINE.findall(text):
        if key:
            section = key
            if key in _WANTED:
                top[key] = _scalar(value)
            elif key == "history":
                history = []
            elif key == "aliases":
                aliases = top["aliases"] = []
        elif section == "history":
            if seq:
                item = {"seq": _scalar(seq)}
                history.append(item)  # type: ignore[union-attr]
            elif entry_key:
                item[entry_key] = _scalar(entry_value)
        elif section == "aliases" and dash:
            aliases.append(_scalar(dash))
    if not top:
        return None
    if history is not None:
        for h in history:
            if not isinstance(h.get("seq"), int):
                raise _Unsupported
        top["history"] = history
    return top


def _scan(text: str) -> dict[str, Any] | None:
    top: dict[str, Any] = {}
    history: list[dict[str, Any]] | None = None
    lines = text.split("\n")
    end = len(lines)
    block_open = False
    i = 0
    while i < end:
        line = lines[i]
        i += 1
        if not line:
            continue
        if line.count("'") % 2:
            raise _Unsupported  # a quoted value spanning lines, or an apostrophe: let PyYAML read it
        head = line[0]
        if head == " " or head == "-":
            if head == "-" and not block_open:
                raise _Unsupported  # a top-level sequence, or a layout we do not follow
            continue  # nested content (or an indentless sequence) of a key we do not need
        if head == "#":
            continue
        m = _KEY.fullmatch(line)
        if m is None:
            raise _Unsupported  # ---, %, ?, a bare scalar, a BOM...
        key, value = m.group(1), m.group(2)
        block_open = not value
        if key == "history":
            if value == "[]":
                history = []
            elif value:
                raise _Unsupported
            else:
                history, i = _history(lines, i)
        elif key == "aliases":
            if value == "[]":
                top["aliases"] = []
            elif value:
                raise _Unsupported
            else:
                top["aliases"], i = _names(lines, i)
                block_open = False
        elif key in _WANTED:
            top[key] = _scalar(value)
        elif value:
            _check_inline(value)
    if not top:
        return None
    if history is not None:
        for h in history:
            if not isinstance(h.get("seq"), int):
                raise _Unsupported  # PyYAML's reading decides what happens then
        top["history"] = history
    return top


def _names(lines: list[str], i: int) -> tuple[list[Any], int]:
    """The items of a block sequence of plain scalars (`aliases:`) starting at lines[i]."""
    items: list[Any] = []
    while i < len(lines) and lines[i].startswith("- "):
        if lines[i].count("'") % 2:
            raise _Unsupported
        items.append(_scalar(lines[i][2:].rstrip(" ")))
        i += 1
    if i < len(lines) and lines[i][:1] in (" ", "-"):
        raise _Unsupported  # a nested or unusual layout: PyYAML reads it
    return items, i


def _history(lines: list[str], i: int) -> tuple[list[dict[str, Any]], int]:
    """The entries of a block `history:` sequence starting at lines[i], and the index of
    the first line after it (the next top-level key)."""
    history: list[dict[str, Any]] = []
    item: dict[str, Any] | None = None  # the entry being read; None before the first "- "
    end = len(lines)
    while i < end:
        line = lines[i]
        if not line:
            i += 1
            continue
        head = line[0]
        if head != " " and head != "-" and head != "#":
            break  # the next top-level key
        i += 1
        if line.count("'") % 2:
            raise _Unsupported  # a quoted value spanning lines, or an apostrophe: let PyYAML read it
        if head == "#":
            continue
        if head == "-":
            if not line.startswith("- "):
                raise _Unsupported
            item = {}
            history.append(item)
            rest = line[2:]
        else:
            if item is None:
                raise _Unsupported  # indented sequence style
            if not line.startswith("  ") or line[2:3] in (" ", ""):
                continue  # deeper (content of an entry's nested value), or blank
            rest = line[2:]
            if rest.startswith("-"):
                continue  # a sequence under one of the entry's keys (approved_by)
        m = _KEY.fullmatch(rest)
        if m is None:
            raise _Unsupported
        key, value = m.group(1), m.group(2)
        if key in _ITEM_WANTED:
            item[key] = _scalar(value)
        elif value:
            _check_inline(value)
    return history, i


def _check_inline(value: str) -> None:
    """A value we skip must still end on its own line: a flow collection opened and not
    closed, or a block scalar header, could make later lines look like keys."""
    if value[0] in "{[" and value[-1] not in "}]":
        raise _Unsupported
    if value[0] in "|>!&*%@`":
        raise _Unsupported
    if " #" in value:
        raise _Unsupported
