"""Rewrite an older service.yaml (and Copier's answers) to the current `schema_version`.

`schema_version` is the contract between a spec and bluegreen. A release that changes
the format bumps the `schema_version` const of schema/service.schema.json and adds
`STEPS[n]`: a function that edits a version-n document into version n+1 (the bump of
`schema_version` itself is done here). Steps edit the YAML text in place (rename a
key, set a scalar, delete an entry), so the comments and layout of the user's file
survive; `Document.replace` rewrites the whole document when nothing finer fits.

Copier runs this module (`python -m bluegreen.migrations`, the `_migrations` entry of
copier.yml) before it renders a newer template version, with the installed bluegreen
(at least the template's bluegreen_min_version), on the
destination's service.yaml and .copier-answers.yml; Copier then reads the migrated
answers. The Jinja hook migrates older answers in memory (`migrate_data`), so Copier
can still render the previous template version for its three-way merge.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .resources import schema_file

KeyPath = tuple[str, ...]


class MigrationError(ValueError):
    """A document that cannot be brought to the current schema_version."""


class Document:
    """A YAML mapping document, edited as text so that comments and layout survive."""

    def __init__(self, text: str) -> None:
        self.text = text

    @property
    def data(self) -> Any:
        return yaml.safe_load(self.text)

    def get(self, path: KeyPath, default: Any = None) -> Any:
        """The value at `path` (mapping keys), or `default` when any part is absent."""
        value = self.data
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value

    def keys(self, path: KeyPath = ()) -> list[str]:
        """The keys of the mapping at `path` (none when it is absent or not a mapping)."""
        value = self.get(path) if path else self.data
        return list(value) if isinstance(value, dict) else []

    def rename(self, path: KeyPath, new_key: str) -> bool:
        """Rename the key at `path` (kept in place, its value untouched); False when absent."""
        entry = self._entry(path)
        if entry is None:
            return False
        if new_key in self.keys(path[:-1]):
            raise MigrationError(f"cannot rename {'.'.join(path)}: {new_key} is there already")
        key_node, _ = entry
        self._splice(key_node.start_mark.index, key_node.end_mark.index, _scalar(new_key))
        return True

    def set(self, path: KeyPath, value: Any) -> None:
        """Set `path` to `value`: in place for an existing scalar, else by rewriting the document."""
        entry = self._entry(path)
        if entry is not None and isinstance(entry[1], yaml.ScalarNode) and _is_scalar(value):
            node = entry[1]
            self._splice(node.start_mark.index, node.end_mark.index, _scalar(value))
            return
        data = self.data
        target = data
        for key in path[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise MigrationError(f"cannot set {'.'.join(path)}: {key} is not a mapping")
        target[path[-1]] = value
        self.replace(data)

    def delete(self, path: KeyPath) -> bool:
        """Remove the entry at `path` (whole lines in block style); False when absent."""
        entry = self._entry(path)
        if entry is None:
            return False
        key_node, value_node = entry
        start = self.text.rfind("\n", 0, key_node.start_mark.index) + 1
        if self.text[start : key_node.start_mark.index].strip():
            data = self.data  # not the first thing on its line (flow style): rewrite
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
            self.replace(data)
            return True
        end = value_node.end_mark.index
        end_line = self.text.rfind("\n", 0, end) + 1
        if self.text[end_line:end].strip():
            # The value ends on a line of its own (a scalar, a flow collection): take the
            # rest of that line, its comment included.
            newline = self.text.find("\n", end)
            end = len(self.text) if newline < 0 else newline + 1
        else:
            end = end_line  # a block collection ends where the next entry's line begins
        self._splice(start, end, "")
        return True

    def replace(self, data: Any) -> None:
        """Rewrite the whole document from data (comments are lost: the last resort)."""
        self.text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def _entry(self, path: KeyPath) -> tuple[yaml.Node, yaml.Node] | None:
        if not path:
            raise MigrationError("an entry needs a path")
        node = yaml.compose(self.text)
        for depth, key in enumerate(path):
            if not isinstance(node, yaml.MappingNode):
                return None
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                    if depth == len(path) - 1:
                        return key_node, value_node
                    node = value_node
                    break
            else:
                return None
        return None

    def _splice(self, start: int, end: int, replacement: str) -> None:
        self.text = self.text[:start] + replacement + self.text[end:]


Step = Callable[[Document], None]

# STEPS[n] turns a schema_version n document into n + 1; only version 1 exists so far.
# A release that renames, say, scaling.cpu_target adds:
#
#     def _v1_to_v2(doc: Document) -> None:
#         doc.rename(("scaling", "cpu_target"), "target_cpu")
#         for env in doc.keys(("environments",)):
#             doc.rename(("environments", env, "scaling", "cpu_target"), "target_cpu")
#
#     STEPS[1] = _v1_to_v2
STEPS: dict[int, Step] = {}


@cache
def current_version() -> int:
    """The schema_version this bluegreen (or this template checkout) writes."""
    schema = json.loads(schema_file().read_text(encoding="utf-8"))
    return int(schema["properties"]["schema_version"]["const"])


def migrate_document(doc: Document, target: int | None = None) -> tuple[int | None, int | None]:
    """Apply the steps from the document's schema_version to `target`; (from, to) versions.

    A document without a schema_version (e.g. answers of an unanswered question) is left alone.
    """
    target = current_version() if target is None else target
    found = doc.get(("schema_version",))
    if found is None:
        return None, None
    if isinstance(found, bool) or not isinstance(found, int) or found < 1:
        raise MigrationError(f"schema_version: expected an integer from 1 to {target}, found {found!r}")
    if found > target:
        raise MigrationError(
            f"schema_version: expected at most {target} (this bluegreen), found {found}: upgrade bluegreen"
        )
    for version in range(found, target):
        step = STEPS.get(version)
        if step is None:
            raise MigrationError(f"schema_version: no migration from {version} to {version + 1}")
        step(doc)
        doc.set(("schema_version",), version + 1)
    return found, target


def migrate_text(text: str, target: int | None = None) -> str:
    """The document text brought to `target` (default: the current schema_version)."""
    doc = Document(text)
    migrate_document(doc, target)
    return doc.text


def migrate_data(data: dict[str, Any], target: int | None = None) -> dict[str, Any]:
    """Parsed spec data brought to `target`; returned unchanged when already there."""
    found = data.get("schema_version")
    if found is None or found == (current_version() if target is None else target):
        return data
    return yaml.safe_load(migrate_text(yaml.safe_dump(data, sort_keys=False), target)) or {}


def migrate_file(path: Path, target: int | None = None) -> tuple[int, int] | None:
    """Rewrite `path` in place when it needs migrating; (from, to), or None when nothing changed."""
    text = path.read_text(encoding="utf-8")
    doc = Document(text)
    found, to = migrate_document(doc, target)
    if found is None or to is None or doc.text == text:
        return None
    path.write_text(doc.text, encoding="utf-8")
    return found, to


def main(argv: Sequence[str] | None = None) -> int:
    """`migrations.py [--answers-file FILE] [SPEC ...]`: migrate files in place (Copier runs this)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=["service.yaml"], metavar="SPEC")
    parser.add_argument("--answers-file", help="Copier's answers file; its spec answers are migrated too")
    args = parser.parse_args(argv)
    status = 0
    for name in [*args.files, *([args.answers_file] if args.answers_file else [])]:
        path = Path(name)
        if not path.is_file():
            print(f"{name}: not there, nothing to migrate", file=sys.stderr)
            continue
        try:
            changed = migrate_file(path)
        except (MigrationError, yaml.YAMLError) as error:
            print(f"{name}: {error}", file=sys.stderr)
            status = 2
            continue
        if changed:
            print(f"{name}: schema_version {changed[0]} -> {changed[1]}", file=sys.stderr)
    return status


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _scalar(value: Any) -> str:
    """A scalar as YAML flow text, e.g. `2`, `foo`, `'yes'`."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


if __name__ == "__main__":
    sys.exit(main())
