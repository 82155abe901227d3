"""Read a service.yaml into plain data, remembering where every node stands."""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem, SpecError, describe

FieldPath = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass
class LoadedSpec:
    """The parsed document and the line/column of each value and mapping key."""

    source: str
    data: dict[str, Any]
    value_positions: dict[FieldPath, Position] = field(default_factory=dict)
    key_positions: dict[FieldPath, Position] = field(default_factory=dict)

    def position(self, path: FieldPath) -> Position | None:
        """Where a field is named (its key), or an item stands; else the nearest ancestor."""
        while path:
            if path in self.key_positions:
                return self.key_positions[path]
            if path in self.value_positions:
                return self.value_positions[path]
            path = path[:-1]
        return self.value_positions.get(())


# Limits a hostile file meets long before it can exhaust memory or the stack; a real
# service.yaml is a few kilobytes, a dozen levels deep and a few hundred values once
# its aliases are expanded.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 20_000

# YAML 1.1 (PyYAML) reads more plain scalars as booleans and numbers than YAML 1.2, which
# editors and most other tools follow: `on`, `yes`, `no`, `off` are booleans, `0755` is
# octal 493, `1_000` is 1000, `1:30` is 90. Only the spellings both versions agree on are
# accepted as booleans and numbers; the others are rejected with a hint to quote them.
# (YAML 1.2.2, section 10.3.2 "Tag Resolution", https://yaml.org/spec/1.2.2/#1032-tag-resolution)
_BOOL_12 = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT_12 = re.compile(r"[-+]?(0|[1-9][0-9]{0,17})")
_FLOAT_12 = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?")
_PLAIN_TAGS = {"tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "seq", "map")}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class LimitError(yaml.MarkedYAMLError):
    """A document over one of the loader's limits, located at the node that crossed it."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits on nesting and on the size aliases expand to.

    Aliases share the node they refer to, so composing stays small; it is walking the
    expanded tree (the `_construct` below, and every consumer after it) that a few
    nested aliases blow up exponentially ("billion laughs"). Each node's expanded size is
    counted as it is composed, and an alias adds the size of its anchor's node.
    An alias inside the collection its anchor names would expand forever: rejected.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}
        self._open: set[str] = set()

    def fetch_flow_collection_start(self, token_class: type[yaml.Token]) -> None:
        """`[` or `{`: the scanner reads up to 1024 characters ahead for each open flow
        collection (a possible simple key), quadratic in their nesting; stop at the limit."""
        if self.flow_level >= MAX_DEPTH:
            raise LimitError(
                None, None, f"at most {MAX_DEPTH} levels of nesting, found more", self.get_mark()
            )
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise LimitError(
                    None,
                    None,
                    "an alias outside the collection its anchor names,"
                    f" found recursive alias *{event.anchor}",
                    event.start_mark,
                )
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(id(node), 1), event.start_mark, f"alias *{event.anchor}")
            return node
        if self._depth >= MAX_DEPTH:
            raise LimitError(
                None, None, f"at most {MAX_DEPTH} levels of nesting, found more", event.start_mark
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        self._depth += 1
        before = self._expanded
        self._count(1, event.start_mark, "a value")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open.discard(anchor)
        self._sizes[id(node)] = self._expanded - before
        return node

    def _count(self, size: int, mark: yaml.Mark, what: str) -> None:
        self._expanded += size
        if self._expanded > MAX_NODES:
            raise LimitError(
                None,
                None,
                f"at most {MAX_NODES} values with aliases expanded, found {what} passing it",
                mark,
            )


def load_spec(path: str | Path) -> LoadedSpec:
    """Load a spec file; any unreadable, oversized or malformed input raises SpecError."""
    source = str(path)

    def refuse(found: str, expected: str = "a service.yaml file") -> SpecError:
        return SpecError(source, [Problem(None, None, "", expected, found)])

    try:
        # Opened without blocking, then checked: a named pipe with no writer would block
        # open() and read() forever; a directory or a socket is no file to read either.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with open(descriptor, "rb") as file:
            mode = os.fstat(descriptor).st_mode
            if stat.S_ISDIR(mode):
                raise refuse("a directory")
            if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise refuse("a named pipe" if stat.S_ISFIFO(mode) else "a socket", "a regular file")
            os.set_blocking(descriptor, True)
            raw = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise refuse("no such file") from None
    except IsADirectoryError:
        raise refuse("a directory") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise refuse(reason, "a readable file") from None
    if len(raw) > MAX_BYTES:
        raise refuse(f"more than {MAX_BYTES} bytes", f"a file of at most {MAX_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse(f"undecodable byte at offset {error.start}", "UTF-8 text") from None
    return parse_spec(text, source)


def parse_spec(text: str, source: str = "service.yaml") -> LoadedSpec:
    """Parse spec text; syntax errors, duplicate keys, YAML 1.1 surprises, documents over
    the loader's limits and non-mapping documents raise SpecError."""
    if len(text) > MAX_BYTES:
        raise SpecError(source, [Problem(None, None, "", f"at most {MAX_BYTES} characters", f"{len(text)}")])
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as error:
        raise SpecError(source, [_unprintable(text, error)]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError(source, [Problem(1, 1, "", "a mapping of service settings", "an empty document")])
        spec = LoadedSpec(source, {})
        problems: list[Problem] = []
        data = _construct(loader, node, (), spec, problems)
    except LimitError as error:
        mark = error.problem_mark
        expected, _, found = (error.problem or "").partition(", found ")
        raise SpecError(source, [Problem(mark.line + 1, mark.column + 1, "", expected, found)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = " ".join((error.problem or error.context or "invalid YAML").split())
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise SpecError(source, [Problem(line, column, "", "valid YAML", reason)]) from None
    except yaml.reader.ReaderError as error:
        raise SpecError(source, [_unprintable(text, error)]) from None
    except yaml.YAMLError as error:
        raise SpecError(
            source, [Problem(None, None, "", "valid YAML", " ".join(str(error).split()))]
        ) from None
    finally:
        loader.dispose()
    if problems:
        raise SpecError(source, problems)
    if not isinstance(data, dict):
        line, column = spec.value_positions[()]
        raise SpecError(source, [Problem(line, column, "", "a mapping of service settings", describe(data))])
    spec.data = data
    return spec


def _unprintable(text: str, error: yaml.reader.ReaderError) -> Problem:
    """A character YAML does not allow in a document (a control character), located."""
    line = text.count("\n", 0, error.position) + 1
    column = error.position - text.rfind("\n", 0, error.position)
    return Problem(
        line, column, "", "valid YAML (printable text)", f"the control character #x{error.character:04X}"
    )


def _construct(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: FieldPath,
    spec: LoadedSpec,
    problems: list[Problem],
    *,
    depth: int = 0,
) -> Any:
    """Build plain data from a node, recording positions and rejecting duplicate keys,
    values YAML 1.1 and 1.2 read differently, and nesting deeper than MAX_DEPTH once
    aliases are expanded."""
    spec.value_positions[path] = _mark(node)
    if depth >= MAX_DEPTH:
        line, column = _mark(node)
        problems.append(Problem(line, column, dotted(path), f"at most {MAX_DEPTH} levels of nesting", "more"))
        return None
    if node.tag not in _PLAIN_TAGS and node.tag != _TIMESTAMP_TAG:
        line, column = _mark(node)
        problems.append(
            Problem(
                line,
                column,
                dotted(path),
                "a plain YAML value (string, number, boolean, list or mapping)",
                f"the tag {node.tag.replace('tag:yaml.org,2002:', '!!')}",
            )
        )
        return None
    if isinstance(node, yaml.MappingNode):
        _reject_duplicate_keys(loader, node, path, problems)
        loader.flatten_mapping(node)  # YAML merge keys (<<) first, explicit keys override them
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node, path, problems) if isinstance(key_node, yaml.ScalarNode) else None
            if key is _REJECTED:
                continue
            if not isinstance(key, str):
                line, column = _mark(key_node)
                found = describe(key) if isinstance(key_node, yaml.ScalarNode) else "a list or mapping"
                problems.append(Problem(line, column, dotted(path), "string keys", f"key {found}"))
                continue
            spec.key_positions[(*path, key)] = _mark(key_node)
            result[key] = _construct(loader, value_node, (*path, key), spec, problems, depth=depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*path, index), spec, problems, depth=depth + 1)
            for index, item in enumerate(node.value)
        ]
    value = _scalar(loader, node, path, problems)
    return None if value is _REJECTED else value


_REJECTED = object()


def _scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode, path: FieldPath, problems: list[Problem]) -> Any:
    """A scalar's value, read the YAML 1.2 way where YAML 1.1 would surprise: booleans only
    as true/false, decimal numbers only, dates kept as written; _REJECTED after a problem."""
    text = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    tag = node.tag.removeprefix("tag:yaml.org,2002:")
    if tag == "timestamp":
        return node.value  # YAML 1.2 has no timestamps: a date is the string it looks like
    expected = _yaml11_surprise(loader, node, tag, text)
    if expected is not None:
        line, column = _mark(node)
        found = text or f'!!{tag} ""'  # empty text is a boolean or number only by an explicit tag
        problems.append(Problem(line, column, dotted(path), expected, found))
        return _REJECTED
    value = loader.construct_object(node, deep=True)
    if isinstance(value, float) and not math.isfinite(value):
        line, column = _mark(node)
        problems.append(Problem(line, column, dotted(path), "a finite number", text))
        return _REJECTED
    return value


def _yaml11_surprise(loader: yaml.SafeLoader, node: yaml.ScalarNode, tag: str, text: str) -> str | None:
    """The expectation where a boolean or number is spelled the YAML 1.1 way only, or where an
    explicit tag stands on text of another kind (`!!bool ""`, `!!int x`); None otherwise."""
    quoted = f"'{text}' quoted for a string" if "'" not in text else "the text quoted for a string"
    if tag == "bool" and not _BOOL_12.fullmatch(node.value):
        meaning = _yaml11(loader.construct_yaml_bool, node)
        if meaning is _REJECTED:
            return f"true or false, or {quoted} (the tag !!bool on text that is no boolean)"
        return f"true or false, or {quoted} (YAML 1.1 reads {text} as {'true' if meaning else 'false'})"
    if tag == "int" and not _INT_12.fullmatch(node.value):
        if re.fullmatch(r"[-+]?[0-9]{19,}", node.value) or len(node.value) > 40:
            return "an integer of at most 18 digits"
        number = _yaml11(loader.construct_yaml_int, node)
        if number is _REJECTED:
            return f"a decimal integer, or {quoted} (the tag !!int on text that is no integer)"
        return f"a decimal integer, or {quoted} (YAML 1.1 reads {text} as {number})"
    if tag == "float" and not _FLOAT_12.fullmatch(node.value):
        number = _yaml11(loader.construct_yaml_float, node)
        if number is _REJECTED:
            return f"a decimal number, or {quoted} (the tag !!float on text that is no number)"
        meaning = number if math.isfinite(number) else "a special number"
        return f"a decimal number, or {quoted} (YAML 1.1 reads {text} as {meaning})"
    return None


def _yaml11(construct: Callable[[yaml.ScalarNode], Any], node: yaml.ScalarNode) -> Any:
    """What PyYAML's YAML 1.1 constructor makes of a scalar; _REJECTED where it fails: an explicit
    tag on text of another kind (`!!bool ""`, `!!int x`) makes it raise, not a YAML error."""
    try:
        return construct(node)
    except (KeyError, IndexError, ValueError, OverflowError, yaml.YAMLError):
        return _REJECTED


def _reject_duplicate_keys(
    loader: yaml.SafeLoader, node: yaml.MappingNode, path: FieldPath, problems: list[Problem]
) -> None:
    """A key written twice in one mapping is a mistake PyYAML would silently resolve.

    Keys compare by type and value: `true` and `1` are different keys (Python's
    True == 1 would call them duplicates). Two merge keys (`<<`) in one mapping are a
    duplicate too: YAML says a key appears once; write `<<: [*a, *b]` to merge several.
    """
    seen: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        if key_node.tag == _MERGE_TAG:
            key = "<<"
        elif key_node.tag in _PLAIN_TAGS:
            key = key_node.value  # non-string keys are rejected anyway: their spelling is enough
        else:
            continue  # rejected by _construct
        line, column = _mark(key_node)
        kind = (key_node.tag, key)
        if kind in seen:
            problems.append(
                Problem(
                    line,
                    column,
                    dotted((*path, str(key))),
                    "each key once" + (" (merge several with <<: [*a, *b])" if key == "<<" else ""),
                    f"a duplicate of the key on line {seen[kind]}",
                )
            )
        else:
            seen[kind] = line


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def dotted(path: FieldPath) -> str:
    """`("scaling", "min")` -> `scaling.min`; list indexes as `[0]`, unprintable keys as `['a\\nb']`."""
    text = ""
    for part in path:
        if isinstance(part, int) or not str(part).isprintable():
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else str(part)
    return text
