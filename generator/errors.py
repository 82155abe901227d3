"""bluegreen's errors: one base class carrying the exit code, a subclass per kind of failure.

The CLI prints `str(error)` of any BluegreenError and exits with its `exit_code`; anything
else is a bug and keeps its traceback. Errors of the tools bluegreen drives (Copier, Jinja,
git, terraform) are wrapped into these where they are raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


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


EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class BluegreenError(Exception):
    """A failure the user can act on; the message is complete, one line per problem."""

    exit_code = EXIT_FAILED


class SpecError(BluegreenError):
    """Input that cannot be used (a spec, an answers file, a path); `problems` says why, one line each."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(set(problems), key=_sort_key)
        super().__init__("\n".join(p.format(source) for p in self.problems))


class UsageError(BluegreenError):
    """A command line that cannot be carried out as given (a bad option value, a missing ref)."""

    exit_code = EXIT_BAD_INPUT

    def __str__(self) -> str:
        return f"bluegreen: {super().__str__()}"


class RepositoryError(SpecError):
    """A generated repository in a state the command cannot work on (not git, dirty, no answers)."""


class ToolError(BluegreenError):
    """A tool bluegreen drives (Copier, git, terraform, the emulator) or the template failed."""

    def __str__(self) -> str:
        return f"bluegreen: {super().__str__()}"


class TemplateVersionError(ToolError):
    """The template needs a newer bluegreen than the one installed."""

    exit_code = EXIT_BAD_INPUT


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


@contextlib.contextmanager
def naming(temporary: Path, shown: Path) -> Iterator[None]:
    """Errors raised inside name `shown` (the user's path) where they say `temporary`: a
    staging directory or throwaway clone is gone by the time the message is read."""
    try:
        yield
    except SpecError as error:
        raise type(error)(error.source.replace(str(temporary), str(shown)), error.problems) from None
    except ToolError as error:
        raise type(error)(str(error.args[0]).replace(str(temporary), str(shown))) from None
