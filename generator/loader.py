"""Read a service.yaml into plain data, remembering where every node stands."""

from __future__ import annotations

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


def load_spec(path: str | Path) -> LoadedSpec:
    """Load a spec file; any unreadable or malformed input raises SpecError."""
    source = str(path)
    file = Path(path)
    if not file.exists():
        raise SpecError(source, [Problem(None, None, "", "a service.yaml file", "no such file")])
    if file.is_dir():
        raise SpecError(source, [Problem(None, None, "", "a service.yaml file", "a directory")])
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            source, [Problem(None, None, "", "UTF-8 text", f"undecodable byte at offset {error.start}")]
        ) from None
    except OSError as error:
        raise SpecError(
            source, [Problem(None, None, "", "a readable file", error.strerror or "an error")]
        ) from None
    return parse_spec(text, source)


def parse_spec(text: str, source: str = "service.yaml") -> LoadedSpec:
    """Parse spec text; syntax errors, duplicate keys and non-mapping documents raise SpecError."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as error:
        raise SpecError(source, [_unprintable(text, error)]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError(source, [Problem(1, 1, "", "a mapping of service settings", "an empty document")])
        spec = LoadedSpec(source, {})
        problems: list[Problem] = []
        data = _construct(loader, node, (), spec, problems)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = error.problem or error.context or "invalid YAML"
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
    loader: yaml.SafeLoader, node: yaml.Node, path: FieldPath, spec: LoadedSpec, problems: list[Problem]
) -> Any:
    """Build plain data from a node, recording positions and rejecting duplicate keys."""
    spec.value_positions[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        _reject_duplicate_keys(loader, node, path, problems)
        loader.flatten_mapping(node)  # YAML merge keys (<<) first, explicit keys override them
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                line, column = _mark(key_node)
                problems.append(Problem(line, column, dotted(path), "string keys", f"key {describe(key)}"))
                continue
            spec.key_positions[(*path, key)] = _mark(key_node)
            result[key] = _construct(loader, value_node, (*path, key), spec, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*path, index), spec, problems) for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _reject_duplicate_keys(
    loader: yaml.SafeLoader, node: yaml.MappingNode, path: FieldPath, problems: list[Problem]
) -> None:
    """A key written twice in one mapping is a mistake PyYAML would silently resolve."""
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = loader.construct_object(key_node)
        line, column = _mark(key_node)
        if key in seen:
            problems.append(
                Problem(
                    line,
                    column,
                    dotted((*path, str(key))),
                    "each key once",
                    f"a duplicate of the key on line {seen[key]}",
                )
            )
        else:
            seen[key] = line


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
