"""Rendering a validated spec into a new service repository with Copier."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import copier
from copier.errors import CopierError, ExtensionNotFoundError
from jinja2 import TemplateError
from plumbum import ProcessExecutionError

from .copier_extension import is_remote
from .errors import BluegreenError, Problem, SpecError, TemplateVersionError, ToolError
from .loader import load_spec
from .resources import template_root
from .validate import validate


def template_source(explicit: str | None = None) -> str:
    """The Copier template: --template, then $BLUEGREEN_TEMPLATE, then the template that
    ships with this bluegreen (a git URL or a folder each)."""
    source = explicit or os.environ.get("BLUEGREEN_TEMPLATE") or str(template_root())
    if not is_remote(source) and not (Path(source) / "copier.yml").is_file():
        raise SpecError(
            source, [Problem(None, None, "template", "a Copier template (copier.yml)", "none there")]
        )
    return source


@contextlib.contextmanager
def copier_errors(source: str) -> Iterator[None]:
    """Copier's, Jinja's and git's failures while rendering `source`, as one-line ToolErrors."""
    try:
        yield
    except BluegreenError:
        raise
    except ExtensionNotFoundError as error:
        if "generator" in str(error):
            raise TemplateVersionError(
                f"template {source} was made for bluegreen 0.1 (it loads generator.copier_extension, "
                "named bluegreen.copier_extension since 0.2): render it with `pip install 'bluegreen<0.2'`, "
                "or use a template release >= v0.2.0"
            ) from None
        raise ToolError(f"copier ({source}): {_one_line(error)}") from None
    except CopierError as error:
        raise ToolError(f"copier ({source}): {_one_line(error)}") from None
    except TemplateError as error:
        raise ToolError(f"template error ({source}): {error}") from None
    except ProcessExecutionError as error:
        detail = (error.stderr or error.stdout or "").strip().splitlines()
        raise ToolError(
            f"git failed for template {source}: {detail[-1] if detail else f'exit {error.retcode}'}"
        ) from None


def _one_line(error: Exception) -> str:
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def run_copy(source: str, destination: Path, **options: object) -> None:
    """copier.run_copy with bluegreen's settings and errors."""
    with copier_errors(source):
        copier.run_copy(source, destination, defaults=True, unsafe=True, quiet=True, **options)


def run_update(repo: Path, source: str, **options: object) -> None:
    """copier.run_update with bluegreen's settings and errors."""
    with copier_errors(source):
        copier.run_update(repo, defaults=True, unsafe=True, quiet=True, overwrite=True, **options)


def render_new(
    spec_path: str | Path, destination: str | Path, template: str | None = None, vcs_ref: str | None = None
) -> Path:
    """Validate `spec_path` and render it into the new directory `destination`.

    Renders into a sibling staging directory and moves it into place only when
    everything succeeded, so a failure never leaves a half-written destination.
    """
    spec = load_spec(spec_path)
    validate(spec)
    dest = Path(destination).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        found = "a file" if not dest.is_dir() else f"a directory with {len(list(dest.iterdir()))} entries"
        raise SpecError(str(destination), [Problem(None, None, "DEST", "a new or empty directory", found)])
    source = template_source(template)
    created_parent = _first_missing_ancestor(dest.parent)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        run_copy(source, staging, data=spec.data, vcs_ref=vcs_ref)
        # Keep the spec exactly as the user wrote it, comments included.
        shutil.copyfile(spec_path, staging / "service.yaml")
        if dest.exists():
            dest.rmdir()
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_parent is not None:
            shutil.rmtree(created_parent, ignore_errors=True)
        raise
    return dest


def _first_missing_ancestor(path: Path) -> Path | None:
    """The outermost directory of `path` that does not exist yet, if any."""
    missing = None
    while not path.exists():
        missing, path = path, path.parent
    return missing
