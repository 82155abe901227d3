"""Rendering a validated spec into a new service repository with Copier."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import stat
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import copier
import yaml
from copier.errors import CopierError, ExtensionNotFoundError
from jinja2 import TemplateError
from plumbum import ProcessExecutionError

from .copier_extension import is_remote
from .errors import BluegreenError, Problem, SpecError, TemplateVersionError, ToolError, UsageError, naming
from .loader import load_spec
from .resources import template_root
from .validate import validate


def template_source(explicit: str | None = None) -> str:
    """The Copier template: --template, then $BLUEGREEN_TEMPLATE, then the template that
    ships with this bluegreen (a git URL or a folder each)."""
    source = explicit or os.environ.get("BLUEGREEN_TEMPLATE") or str(template_root())
    if is_remote(source) and shutil.which("git") is None:
        raise ToolError(f"git is needed for template {source} and is not on PATH")
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
        last = detail[-1] if detail else f"exit {error.retcode}"
        if match := re.search(r"(?:invalid reference|unknown revision[^:]*): (\S+)", last):
            raise _unknown_version(match[1], source) from None
        raise ToolError(f"git failed for template {source}: {last}") from None
    except ValueError as error:
        if str(error).startswith("Unknown revision"):  # copier's ref lookup (copier/_vcs.py)
            raise _unknown_version(str(error).partition(": ")[2].strip("'"), source) from None
        raise


def _unknown_version(ref: str, source: str) -> UsageError:
    return UsageError(f"template version {ref}: no such tag, branch or commit in {source}")


def _one_line(error: Exception) -> str:
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def run_copy(source: str, destination: Path, **options: object) -> None:
    """copier.run_copy with bluegreen's settings and errors."""
    with copier_errors(source), _quiet(), private_tempdir():
        copier.run_copy(source, destination, defaults=True, unsafe=True, quiet=True, **options)


def run_update(repo: Path, source: str, **options: object) -> None:
    """copier.run_update with bluegreen's settings and errors."""
    with copier_errors(source), _quiet(), private_tempdir():
        copier.run_update(repo, defaults=True, unsafe=True, quiet=True, overwrite=True, **options)


# tempfile's folder, sys.stderr and the warning filters are the process's: while one thread
# changes them for Copier (private_tempdir, _quiet), another waits, so a library user may
# render from several threads.
_PROCESS_WIDE = threading.RLock()


@contextlib.contextmanager
def private_tempdir() -> Iterator[Path]:
    """A temp folder of bluegreen's own for Copier's clones and scratch copies, removed
    afterwards whatever happened. Copier removes its clones itself, but a cleanup cut
    short (a signal while a git process still writes into a clone) would leave one in the
    user's temp folder."""
    with _PROCESS_WIDE:
        scratch = Path(tempfile.mkdtemp(prefix="bluegreen-copier."))
        previous = tempfile.tempdir
        tempfile.tempdir = str(scratch)
        try:
            yield scratch
        finally:
            tempfile.tempdir = previous
            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Copier's warnings about the template checkout (no tags yet: HEAD is used; a dirty
    checkout: its changes are included) are for template authors; bluegreen's own output
    stays one line per result or problem. Copier's failures arrive as exceptions."""
    with _PROCESS_WIDE, warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore", UserWarning)
        yield


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
    try:
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            found = "a file" if not dest.is_dir() else f"a directory with {len(list(dest.iterdir()))} entries"
            raise SpecError(
                str(destination), [Problem(None, None, "DEST", "a new or empty directory", found)]
            )
        if not dest.exists() and (blocker := _first_existing_ancestor(dest.parent)) and not blocker.is_dir():
            raise SpecError(
                str(destination),
                [Problem(None, None, "DEST", "a path inside a directory", f"the file {blocker}")],
            )
    except OSError as error:
        raise SpecError(
            str(destination),
            [Problem(None, None, "DEST", "a usable directory path", error.strerror or str(error))],
        ) from None
    source = template_source(template)
    # An existing empty DEST keeps its mode; a new one gets what the umask gives a new
    # directory (mkdtemp's staging directory is 0700, whatever the umask).
    existed = dest.exists()
    mode = stat.S_IMODE(dest.stat().st_mode) if existed else 0o777 & ~_umask()
    created_parent = _first_missing_ancestor(dest.parent)
    staging: Path | None = None
    try:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        except OSError as error:
            problem = Problem(
                None, None, "DEST", "a directory bluegreen can create", error.strerror or str(error)
            )
            raise SpecError(str(destination), [problem]) from None
        with naming(staging, dest):
            run_copy(source, staging, data=spec.data, vcs_ref=vcs_ref)
        # Keep the spec exactly as the user wrote it, comments included.
        shutil.copyfile(spec_path, staging / "service.yaml")
        staging.chmod(mode)
        if dest.exists():
            dest.rmdir()
        staging.rename(dest)
        staging = dest  # a signal before the return still undoes it all
    except BaseException:  # errors, Ctrl-C and the signals the CLI turns into exceptions
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if existed and not dest.exists():  # the user's empty DEST, as it was
            dest.mkdir()
            dest.chmod(mode)
        if created_parent is not None:
            shutil.rmtree(created_parent, ignore_errors=True)
        raise
    return dest


def _umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


def _first_existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _first_missing_ancestor(path: Path) -> Path | None:
    """The outermost directory of `path` that does not exist yet, if any."""
    missing = None
    while not path.exists():
        missing, path = path, path.parent
    return missing


def unrecorded_source_note(repo: Path) -> str | None:
    """What `copier update` will need, in one line, when `repo` records no template URL."""
    answers = yaml.safe_load((repo / ".copier-answers.yml").read_text(encoding="utf-8")) or {}
    if answers.get("_src_path"):
        return None
    release = answers.get("_commit") or "none"
    return (
        f"no template URL is recorded (release {release}): `copier update` needs `_src_path: <the template's "
        "git URL>` in .copier-answers.yml (or render with --template URL; a platform team sets template_url "
        "in copier.yml once); `bluegreen sync` and `check` use the installed bluegreen's template while it "
        "is that release"
    )
