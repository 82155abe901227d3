"""Render each spec once per test session and share the generated repository."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from bluegreen.render import render_new

from tests.support.template_repo import PROJECT_ROOT

SPECS = [
    *sorted((PROJECT_ROOT / "tests/specs").glob("*.yaml")),
    *sorted(PROJECT_ROOT.glob("examples/*/service.yaml")),
]


def spec_id(spec: Path) -> str:
    """`full` for tests/specs/full.yaml, `hello-world` for examples/hello-world/service.yaml."""
    return spec.parent.name if spec.name == "service.yaml" else spec.stem


@cache
def _scratch() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="bluegreen-rendered-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch


@cache
def rendered(spec: Path) -> Path:
    """The repository `spec` renders to (read-only by convention: copy it before changing it)."""
    return render_new(spec, _scratch() / spec_id(spec))
