"""A generated repository over time: `bluegreen sync` and `bluegreen check`.

Both read Copier's record (.copier-answers.yml: template source, version, answers)
and render the template at that same version with the data of the repository's
service.yaml. `sync` does it with Copier's update (`run_update` at the recorded
`_commit`): Copier renders the old answers and the new ones, and carries the
difference between the old render and the repository (the team's edits and files)
onto the new render with a three-way merge, so edits survive exactly as with
`copier update`. `check` runs that sync in a throwaway copy of the committed tree and
reports what it would change, and asks Copier whether a newer template version exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import __version__
from .copier_extension import SPEC_KEYS, copier_data, recording
from .errors import Problem, RepositoryError, SpecError, describe, naming
from .loader import load_spec
from .render import private_tempdir, run_copy, run_update
from .resources import template_root
from .validate import validate

ANSWERS_FILE = ".copier-answers.yml"
SPEC_FILE = "service.yaml"


@dataclass(frozen=True)
class SyncResult:
    """What `sync` did: the template version kept, the paths it changed, those left in conflict."""

    repo: Path
    version: str
    changed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Drift:
    """One path where the committed tree and what service.yaml renders to differ."""

    kind: str  # "changed": differs; "missing": rendered, not committed; "added": committed, not rendered
    path: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}"


@dataclass(frozen=True)
class CheckResult:
    """What `check` found; `ok` when the repository needs neither a sync nor an update.

    `broken`: committed files no render can fix, so that the drift comparison (which keeps
    the team's edits) does not see them: conflict markers left from a sync or update,
    Terraform that does not parse or is not `terraform fmt`-clean.
    """

    drift: list[Drift]
    current_version: str
    latest_version: str
    update_available: bool
    uncommitted: bool = False
    broken: list[Drift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drift and not self.update_available and not self.broken

    def lines(self) -> list[str]:
        """A report, one line per finding (the CLI prints these)."""
        lines = [f"differs from service.yaml: {item}" for item in self.drift]
        if self.drift:
            lines.append("run `bluegreen sync` and commit the result")
        lines += [f"needs fixing: {item}" for item in self.broken]
        if self.broken:
            lines.append("resolve the <<<<<<< markers, run `terraform fmt -recursive`, and commit the result")
        if self.update_available:
            lines.append(
                f"template {self.latest_version} is available (this repo uses {self.current_version}):"
                " run `copier update --trust --defaults`"
            )
        if not lines:
            lines.append(f"up to date (template {self.current_version})")
        lines += [f"note: {note}" for note in self.notes]
        if self.uncommitted:
            lines.append("note: uncommitted changes were not checked; check compares the last commit")
        return lines


def sync(repo: str | Path) -> SyncResult:
    """Re-render `repo` from its service.yaml at the template version it records.

    Refuses (SpecError) a repository that is not a clean git work tree, or whose
    service.yaml is invalid; nothing is written then. Conflicting edits are left with
    Copier's inline markers and listed in `conflicts`.

    Copier's merge base is the render of the recorded answers, which keep the spec's
    order (copier_extension.recorded_answers); in a repository without hand edits it is
    byte for byte the committed tree, so the result is exactly a fresh render of
    service.yaml and never conflicts (tests/test_sync_roundtrip.py).
    """
    root = _repo_root(repo)
    paths = [path for _, path in _status(root)]
    if paths:
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        raise RepositoryError(
            str(root),
            [
                Problem(
                    None,
                    None,
                    "git",
                    "a clean work tree (commit or stash your changes, service.yaml too, then sync)",
                    f"{len(paths)} uncommitted path{'s' if len(paths) > 1 else ''}: {shown}",
                )
            ],
        )
    answers = _answers(root)
    data = _spec_data(root / SPEC_FILE, str(Path(repo) / SPEC_FILE))
    with (
        _release_source(answers) as source,
        _pointing_at(root, answers, source),
        recording(str(answers.get("_src_path") or ""), str(answers["_commit"])),
    ):
        run_update(
            root, source, vcs_ref=str(answers["_commit"]), data=data, skip_answered=True, conflict="inline"
        )
        _restore_deleted(root, source, str(answers["_commit"]), data)
    conflicts = _git(root, "diff", "--name-only", "-z", "--diff-filter=U").split("\0")
    return SyncResult(
        repo=root,
        version=str(answers["_commit"]),
        changed=sorted({path for _, path in _status(root)}),
        conflicts=sorted(set(filter(None, conflicts))),
    )


@contextlib.contextmanager
def _pointing_at(root: Path, answers: dict[str, Any], source: str) -> Iterator[None]:
    """The answers file names `source` while Copier updates: Copier renders its merge base
    from the answers' _src_path. In the work tree only, hidden from git status (Copier
    refuses a dirty repository) and not in the index, which Copier diffs against; the
    update's render writes the record back as it was (the `recording` above)."""
    if source == answers.get("_src_path"):
        yield
        return
    answers_file = root / ANSWERS_FILE
    recorded = answers_file.read_bytes()
    _git(root, "update-index", "--assume-unchanged", "--", ANSWERS_FILE)
    try:
        answers_file.write_text(
            yaml.safe_dump({**answers, "_src_path": source}, sort_keys=False), encoding="utf-8"
        )
        yield
    except BaseException:
        answers_file.write_bytes(recorded)
        raise
    finally:
        _git(root, "update-index", "--no-assume-unchanged", "--", ANSWERS_FILE)


@contextlib.contextmanager
def _release_source(answers: dict[str, Any]) -> Iterator[str]:
    """Where to render the template release `answers` record, as a Copier source.

    The release of the installed bluegreen is its own bundled template, offline: a
    throwaway git repository of it, tagged as that release (Copier's update needs git).
    Another release comes from the recorded URL; with none recorded there is nowhere to
    get it from, and the error says what would do.
    """
    ref = str(answers["_commit"])
    if ref == f"v{__version__}":
        with private_tempdir() as scratch:
            yield str(_bundled_release(scratch / "template", ref))
        return
    url = answers.get("_src_path")
    if not url:
        raise RepositoryError(
            ANSWERS_FILE,
            [
                Problem(
                    None,
                    None,
                    "_src_path",
                    f"the template's git URL, to render release {ref} (or install bluegreen "
                    f"{ref.removeprefix('v')}, whose own template is that release)",
                    f"none, and bluegreen {__version__} is installed",
                )
            ],
        )
    yield str(url)


_RELEASE_PARTS = ("copier.yml", "template", "partials", "schema")


def _bundled_release(destination: Path, ref: str) -> Path:
    """A git repository holding the bundled template alone, its one commit tagged `ref`."""
    source = template_root()
    destination.mkdir(parents=True)
    for part in _RELEASE_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, destination / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif (source / part).is_file():
            shutil.copy2(source / part, destination / part)
    identity = (
        "-c",
        "user.name=bluegreen",
        "-c",
        "user.email=bluegreen@localhost",
        "-c",
        "commit.gpgsign=false",
    )
    for args in (("init", "--quiet"), ("add", "--all"), ("commit", "--quiet", "-m", ref), ("tag", ref)):
        _git(destination, *identity, *args)
    return destination


def _restore_deleted(root: Path, source: str, ref: str, data: dict[str, Any]) -> None:
    """Generated files the repository deleted, rendered again: Copier's update keeps a
    committed deletion as wanted, but a deploy root or script missing one of its files is
    broken, and the team's way to drop a generated file is the spec or the template."""
    with private_tempdir() as scratch:
        rendered = scratch / "rendered"
        run_copy(source, rendered, data=data, vcs_ref=ref)
        for path in sorted(p for p in rendered.rglob("*") if p.is_file()):
            target = root / path.relative_to(rendered)
            if not target.exists() and not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def check(repo: str | Path, strict: bool = False) -> CheckResult:
    """Compare the last commit of `repo` with what its service.yaml renders to.

    By default the comparison is what `sync` would change in a clean copy of the last
    commit: the team's edits to generated files and its own files are kept, as sync
    and `copier update` keep them. With `strict`, the committed files are compared
    with a plain render (no merge): every edited generated file is `changed`, and
    every file of the team's own is `added`.
    Also asks Copier (`copier check-update`) whether a newer template version is tagged.
    SpecError when the committed service.yaml is invalid.
    """
    root = _repo_root(repo)
    with tempfile.TemporaryDirectory(prefix="bluegreen-check.") as scratch:
        top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
        clone = Path(scratch) / top.name
        _git(root, "clone", "--quiet", "--shared", "--no-tags", str(top), str(clone))
        copy = clone / root.resolve().relative_to(top.resolve())
        with naming(copy, Path(repo)):
            answers = _answers(copy)
            data = _spec_data(copy / SPEC_FILE, str(Path(repo) / SPEC_FILE))
            # Before the sync below: it would re-render some of the files.
            broken, notes = _broken_files(copy)
            drift = _strict_drift(copy, answers, data, Path(scratch)) if strict else _sync_drift(copy)
    update_available, latest, lookup_note = _update_data(root, answers)
    return CheckResult(
        drift,
        str(answers["_commit"]).removeprefix("v"),
        latest,
        update_available,
        uncommitted=bool(_status(root)),
        broken=broken,
        notes=notes + ([lookup_note] if lookup_note else []),
    )


# A line a merge tool writes around a conflict: git's and Copier's inline markers
# (`<<<<<<< before updating`, `=======`, `>>>>>>> after updating`; diff3 adds `|||||||`).
_CONFLICT_MARKER = re.compile(rb"^(<{7}|>{7}|\|{7})( |\r?$)", re.MULTILINE)
_TERRAFORM_FILES = (".tf", ".tfvars")


def _broken_files(copy: Path) -> tuple[list[Drift], list[str]]:
    """Committed files with conflict markers, and Terraform files that do not parse or are
    not as `terraform fmt` writes them; with a note when no terraform is there to ask."""
    tracked = sorted(filter(None, _git(copy, "ls-files", "-z").split("\0")))
    broken: list[Drift] = []
    terraform_files = []
    for path in tracked:
        file = copy / path
        if file.is_symlink() or not file.is_file():
            continue
        content = file.read_bytes()
        if b"\0" not in content[:8000] and _CONFLICT_MARKER.search(content):
            broken.append(Drift("conflict markers", path))
        elif path.endswith(_TERRAFORM_FILES):
            terraform_files.append((path, content))
    if not terraform_files:
        return broken, []
    try:
        from .emulator.sandbox import SandboxError, find_terraform

        terraform = find_terraform()
    except SandboxError:
        return broken, ["terraform is not on PATH: the formatting of the Terraform files was not checked"]
    for path, content in terraform_files:
        kind = _terraform_fmt(terraform, content)
        if kind:
            broken.append(Drift(kind, path))
    return broken, []


def _terraform_fmt(terraform: str, content: bytes) -> str | None:
    """What is wrong with one Terraform file for `terraform fmt`, or None."""
    result = subprocess.run(
        [terraform, "fmt", "-no-color", "-"],
        input=content,
        capture_output=True,
        check=False,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
    )
    if result.returncode != 0:
        return "not valid Terraform"
    return None if result.stdout == content else "not terraform fmt-clean"


def _sync_drift(copy: Path) -> list[Drift]:
    """What `sync` changes in `copy`, a clean clone of the last commit."""
    result = sync(copy)
    kinds = {"A": "missing", "?": "missing", "D": "added"}
    drift = [
        Drift(
            kinds.get(code.strip()[:1], "changed") + (" (conflict)" if path in result.conflicts else ""), path
        )
        for code, path in _status(copy)
    ]
    return sorted(drift, key=lambda item: item.path)


def _strict_drift(copy: Path, answers: dict[str, Any], data: dict[str, Any], scratch: Path) -> list[Drift]:
    """The tracked files of `copy` (a clone of the last commit) against a plain render."""
    rendered = scratch / "rendered"
    with _release_source(answers) as source:
        run_copy(source, rendered, data=data, vcs_ref=str(answers["_commit"]))
    shutil.copyfile(copy / SPEC_FILE, rendered / SPEC_FILE)  # the spec is the input, kept as written
    ours = set(filter(None, _git(copy, "ls-files", "-z").split("\0")))
    theirs = {p.relative_to(rendered).as_posix() for p in rendered.rglob("*") if p.is_file()}
    drift = [Drift("added", path) for path in ours - theirs]
    drift += [Drift("missing", path) for path in theirs - ours]
    drift += [
        Drift("changed", path)
        for path in ours & theirs
        if (copy / path).read_bytes() != (rendered / path).read_bytes()
    ]
    return sorted(drift, key=lambda item: item.path)


def _update_data(root: Path, answers: dict[str, Any]) -> tuple[bool, str, str | None]:
    """(newer release tagged?, latest version, a note) from Copier's own check-update (PEP 440
    ordering of the template's git tags). Looking up is advisory: with no URL recorded, or
    one that cannot be reached, the drift check stands and a note says what was not done."""
    current = str(answers["_commit"]).removeprefix("v")
    url = answers.get("_src_path")
    if not url:
        return False, current, "no template URL is recorded (_src_path): newer releases were not looked up"
    with private_tempdir() as scratch:  # the child's clones land there, removed whatever happens
        result = subprocess.run(
            [sys.executable, "-m", "copier", "check-update", "--output-format", "json", str(root)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "TMPDIR": str(scratch)},
        )
    lines = result.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if result.returncode == 0 and lines else None
    except json.JSONDecodeError:
        report = None
    if report is None:
        detail = (result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}").splitlines()
        return False, current, f"newer template releases were not looked up ({url}): {detail[-1].strip()}"
    return bool(report["update_available"]), str(report["latest_version"]), None


def _repo_root(repo: str | Path) -> Path:
    """The generated repository (the folder of its .copier-answers.yml) holding `repo`: the
    folder itself or the nearest one above it, inside a git work tree."""
    start = Path(repo).absolute()
    try:
        top = Path(_git(start, "rev-parse", "--show-toplevel").strip())
        _git(start, "rev-parse", "--verify", "--quiet", "HEAD")
    except (subprocess.CalledProcessError, NotADirectoryError, FileNotFoundError):
        top = None
    root = next(
        (folder for folder in (start, *start.parents) if (folder / ANSWERS_FILE).is_file()),
        None,
    )
    if root is None or (top is not None and not root.resolve().is_relative_to(top.resolve())):
        raise RepositoryError(
            str(start),
            [Problem(None, None, ANSWERS_FILE, "a repository generated by bluegreen", "none there or above")],
        )
    if top is None:
        raise RepositoryError(
            str(root), [Problem(None, None, "git", "a git work tree with a commit", "none")]
        )
    return root


def _answers(root: Path) -> dict[str, Any]:
    """Copier's record; it must name the template and the git version rendered."""
    source = str(root / ANSWERS_FILE)
    try:
        answers = yaml.safe_load((root / ANSWERS_FILE).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SpecError(source, [Problem(None, None, "", "valid YAML", str(error).splitlines()[0])]) from None
    if not isinstance(answers, dict):
        raise SpecError(source, [Problem(None, None, "", "Copier's answers", "no mapping")])
    problems = [
        Problem(None, None, key, what, "none" if not answers.get(key) else describe(answers[key]))
        for key, what in (("_commit", "the template's git version (a string)"),)
        if not answers.get(key) or not isinstance(answers[key], str)
    ]
    if "_src_path" in answers and not isinstance(answers["_src_path"], str):
        problems.append(
            Problem(
                None, None, "_src_path", "the template's git URL (a string)", describe(answers["_src_path"])
            )
        )
    if problems:
        raise SpecError(source, problems)
    return answers


def _spec_data(spec_file: Path, source: str) -> dict[str, Any]:
    """The validated spec as Copier data: every question answered, null for absent blocks.

    Explicit nulls matter: Copier would otherwise keep the last answer of a block
    removed from service.yaml. Problems name `source`, the path as the user knows it.
    """
    try:
        spec = load_spec(spec_file)
        validate(spec)
    except SpecError as error:
        raise SpecError(source, error.problems) from None
    return copier_data({key: spec.data.get(key) for key in SPEC_KEYS})


def _status(root: Path) -> list[tuple[str, str]]:
    """`git status` as (XY code, path) pairs; untracked files count, ignored ones do not."""
    entries = iter(_git(root, "status", "--porcelain", "-z", "--untracked-files=all").split("\0"))
    result = []
    for entry in entries:
        if not entry:
            continue
        result.append((entry[:2], entry[3:]))
        if entry[0] in "RC":
            next(entries, None)  # the path it was renamed or copied from
    return result


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def work_tree_is_clean(repo: str | Path) -> bool:
    """Whether `repo` is a generated repository in a clean git work tree: the state `sync`
    starts from, and the one `restore_work_tree` can bring back."""
    try:
        return not _status(_repo_root(repo))
    except (RepositoryError, subprocess.CalledProcessError, OSError):
        return False


def restore_work_tree(repo: str | Path) -> None:
    """Undo a sync cut short (by a signal): back to the last commit, no new files.

    Only for a tree `work_tree_is_clean` said was clean before the sync began: then every
    change and every untracked file is the sync's own. Ignored files are left alone."""
    root = _repo_root(repo)
    _git(root, "reset", "--quiet", "--hard", "HEAD")
    _git(root, "clean", "--quiet", "-d", "--force", "--", ".")
