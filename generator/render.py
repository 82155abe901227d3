"""Rendering a validated spec into a new service repository with Copier."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from copier import run_copy

from .errors import Problem, SpecError
from .loader import load_spec
from .validate import validate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def template_source(explicit: str | None = None) -> str:
    """The Copier template: --template, then $BLUEGREEN_TEMPLATE, then this checkout."""
    source = explicit or os.environ.get("BLUEGREEN_TEMPLATE") or str(PROJECT_ROOT)
    if "://" not in source and not source.startswith("git@") and not (Path(source) / "copier.yml").is_file():
        raise SpecError(
            source, [Problem(None, None, "template", "a Copier template (copier.yml)", "none there")]
        )
    return source


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
        run_copy(source, staging, data=spec.data, defaults=True, unsafe=True, quiet=True, vcs_ref=vcs_ref)
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
