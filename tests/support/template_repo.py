"""A throwaway git copy of this checkout, so Copier renders exactly the working tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def git(cwd: Path, *args: str) -> str:
    """Run git quietly with a fixed identity; return stdout."""
    result = subprocess.run(
        ["git", "-c", "user.name=bluegreen tests", "-c", "user.email=tests@bluegreen.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def project_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files of this checkout, as they are on disk."""
    listed = git(PROJECT_ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return [name for name in listed.split("\0") if name and (PROJECT_ROOT / name).is_file()]


def make_template_repo(destination: Path, tag: str | None = "v1.0.0") -> Path:
    """Copy the working tree into a fresh git repo with one commit (and a tag)."""
    destination.mkdir(parents=True)
    for name in project_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, target)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "template")
    if tag:
        git(destination, "tag", tag)
    return destination


def url(repo: Path) -> str:
    """How a user reaches a template repository: a git URL (`git+file://` for a local work tree;
    Copier takes a plain `file://` URL only for a bare `*.git` repository), never a bare path,
    which Copier would record as a path of this machine."""
    return "git+" + repo.as_uri()
