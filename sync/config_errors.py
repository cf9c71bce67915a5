"""A wrong setting said the way a person fixes it: file, line, key, and the key meant.

Pydantic says `sources.books.fec.default_paymnet_terms: Extra inputs are not permitted`;
this says `config.toml, line 12: [sources.books] default_paymnet_terms: unknown setting;
did you mean default_payment_terms_days?`. The line is found by reading the file's tables
and keys again (TOML readers keep no positions); the suggestion is the nearest known key of
that section (difflib), when one is near enough.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

_TABLE = re.compile(r"^\s*\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.\-\"' ]+?)\s*=")
#: Pydantic's words, and ours.
_MESSAGES = {
    "extra_forbidden": "unknown setting",
    "missing": "missing: this setting is required",
}


def describe(exc: ValidationError, model: type[BaseModel], text: str | None = None) -> str:
    """One sentence per problem, `; `-separated, naming the line when `text` is given."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        keys, known = _walk(model, [str(part) for part in error["loc"]])
        message = _MESSAGES.get(error["type"], error["msg"])
        if not keys:  # a rule across sections: its message names the settings
            problems.append(message.removeprefix("Value error, "))
            continue
        if error["type"] == "extra_forbidden":
            near = difflib.get_close_matches(keys[-1], known, n=1, cutoff=0.6)
            if near:
                message += f"; did you mean {near[0]}?"
            elif known:
                message += f" (known here: {', '.join(sorted(known))})"
        section = ".".join(keys[:-1])
        where = f"[{section}] {keys[-1]}" if section else keys[-1]
        line = find_line(text, keys) if text is not None else None
        problems.append(f"{f'line {line}: ' if line else ''}{where}: {message}")
    return "; ".join(problems)


def find_line(text: str, keys: Sequence[str]) -> int | None:
    """The 1-based line where the dotted key `keys` is set, else where its table starts.

    >>> find_line("[company]\\nname = 'x'\\n", ["company", "name"])
    2
    """
    table: list[str] = []
    table_line: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE.match(line)
        if header:
            table = _dotted(header["name"])
            if table == list(keys):  # the key is a table of its own: [company2]
                return number
            if table == list(keys[:-1]):
                table_line = number
            continue
        key = _KEY.match(line)
        if key and table + _dotted(key["key"]) == list(keys):
            return number
    return table_line


def _dotted(name: str) -> list[str]:
    return [part.strip().strip("\"'") for part in name.split(".")]


def _walk(model: type[BaseModel], location: list[str]) -> tuple[list[str], list[str]]:
    """The keys as the file writes them, and the keys known where the last one stands.

    Pydantic's location holds the tag of a tagged union (`fec` in `sources.books.fec.path`)
    and names of validators (`function-after[...]`): neither is in the file.
    """
    keys: list[str] = []
    current: Any = model
    parts = [part for part in location if not part.startswith("function")]
    index = 0
    while index < len(parts):
        part = parts[index]
        keys.append(part)
        fields = _fields(current)
        if index == len(parts) - 1 or part not in fields:
            keys.extend(parts[index + 1 :])
            return keys, list(fields)
        current = fields[part]
        index += 1
        if typing.get_origin(current) is dict and index < len(parts):
            keys.append(parts[index])  # a name the file chose: [sources.books]
            current = typing.get_args(current)[1]
            index += 1
        members = _union(current)
        if members and index < len(parts):
            current = next((m for m in members if parts[index] in _literal_tags(m)), members[0])
            index += 1  # the tag, not a key
    return keys, []


def _fields(kind: Any) -> dict[str, Any]:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {name: field.annotation for name, field in kind.model_fields.items()}
    members = _union(kind)
    return {name: kind for member in members for name, kind in _fields(member).items()}


def _union(kind: Any) -> list[Any]:
    if typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return [k for k in typing.get_args(kind) if k is not type(None)]
    return []


def _literal_tags(member: Any) -> tuple[Any, ...]:
    field = getattr(member, "model_fields", {}).get("type")
    return typing.get_args(field.annotation) if field else ()
