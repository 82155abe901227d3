"""Problems found in a service.yaml, and the error that carries them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a spec, located as precisely as the source allows."""

    line: int | None
    column: int | None
    path: str
    expected: str
    found: str

    def format(self, source: str) -> str:
        """`FILE:LINE:COL: field.path: expected ..., found ...`."""
        where = source if self.line is None else f"{source}:{self.line}:{self.column}"
        return f"{where}: {self.path or '(document)'}: expected {self.expected}, found {self.found}"


class SpecError(Exception):
    """A spec that cannot be used; `problems` says why, one line each."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(set(problems), key=_sort_key)
        super().__init__("\n".join(p.format(source) for p in self.problems))


def _sort_key(problem: Problem) -> tuple[int, int, str, str]:
    return (problem.line or 0, problem.column or 0, problem.path, problem.expected)


def describe(value: object) -> str:
    """A short, YAML-flavoured description of a found value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{type(value).__name__.replace('int', 'integer')} {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"string {shown!r}" if value else "an empty string"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return f"{type(value).__name__} {value!s}"
