"""`bluegreen demo` never deletes or renders over a folder it did not make.

`demo` writes `.bluegreen-demo` into each DIR/NAME it creates; a DIR/NAME that exists with
content but without that marker (the team's repository, say) is refused with one line and
exit 2 before anything is looked up, rendered or started. Re-running on its own folder (what
`make demo` twice in a row does) is covered by test_terraform_plan.py and test_deploy_e2e.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bluegreen.demo import MARKER

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "hello-world" / "service.yaml"
NAME = "hello-world"


def _bluegreen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # No terraform to be found: the refusal comes before demo looks for its tools, so it is
    # the refusal (exit 2) and not "terraform is not on PATH" (exit 1) that these runs print.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["TERRAFORM"] = str(cwd / "no-terraform-here")
    return subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Team", "-c", "user.email=team@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _team_repo(folder: Path) -> None:
    """A git repository with the team's work: a commit and an untracked file."""
    folder.mkdir(parents=True)
    _git(folder, "init", "-q")
    (folder / "service.yaml").write_text("name: hello-world   # ours, edited by hand\n")
    _git(folder, "add", "service.yaml")
    _git(folder, "commit", "-qm", "the team's work")
    (folder / "notes.txt").write_text("not committed yet\n")


def _assert_refused(result: subprocess.CompletedProcess[str], folder: Path, found: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{folder}: demo: expected no folder, an empty one or one bluegreen demo made")
    assert found in lines[0], lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("deploy", [[], ["--deploy"]], ids=["plan", "deploy"])
def test_demo_refuses_a_git_repository_it_did_not_make(tmp_path: Path, deploy: list[str]):
    workdir = tmp_path / "work"
    repo = workdir / NAME
    _team_repo(repo)
    before, log = _snapshot(repo), _git(repo, "log", "--all", "--format=%H %ae %s")

    result = _bluegreen("demo", str(SPEC), "--workdir", "work", *deploy, cwd=tmp_path)

    _assert_refused(
        result,
        Path("work") / NAME,
        f"found a git repository (1 commit, 3 entries) and no {MARKER}; move it away or pick another --workdir",
    )
    assert _snapshot(repo) == before
    assert _git(repo, "log", "--all", "--format=%H %ae %s") == log
    assert _git(repo, "status", "--porcelain") == "?? notes.txt\n"
    assert sorted(p.name for p in workdir.iterdir()) == [NAME]  # no emulator.env, no log


@pytest.mark.parametrize("deploy", [[], ["--deploy"]], ids=["plan", "deploy"])
def test_demo_refuses_a_folder_with_content_and_no_marker(tmp_path: Path, deploy: list[str]):
    folder = tmp_path / NAME
    folder.mkdir()
    (folder / "draft.tf").write_text('resource "x" "y" {}\n')

    result = _bluegreen("demo", str(SPEC), "--workdir", str(tmp_path), *deploy, cwd=tmp_path)

    _assert_refused(result, folder, f"found a folder with 1 entry and no {MARKER}")
    assert _snapshot(folder) == {"draft.tf": b'resource "x" "y" {}\n'}


def test_demo_refuses_a_file_in_its_place(tmp_path: Path):
    (tmp_path / NAME).write_text("keep me\n")

    result = _bluegreen("demo", str(SPEC), "--workdir", str(tmp_path), cwd=tmp_path)

    _assert_refused(result, tmp_path / NAME, "found a file")
    assert (tmp_path / NAME).read_text() == "keep me\n"


@pytest.mark.parametrize("deploy", [[], ["--deploy"]], ids=["plan", "deploy"])
def test_demo_refuses_its_own_folder_once_someone_else_committed_there(tmp_path: Path, deploy: list[str]):
    """A demo repo someone adopted (committed into) is no longer the demo's to delete."""
    repo = tmp_path / NAME
    _team_repo(repo)
    (repo / MARKER).write_text("Made by bluegreen demo.\n")
    before = _snapshot(repo)

    result = _bluegreen("demo", str(SPEC), "--workdir", str(tmp_path), *deploy, cwd=tmp_path)

    _assert_refused(
        result, repo, f"found {MARKER}, but a git repository with commits bluegreen demo did not make"
    )
    assert _snapshot(repo) == before


@pytest.mark.parametrize("deploy", [[], ["--deploy"]], ids=["plan", "deploy"])
def test_demo_takes_an_empty_folder_or_its_own_past_the_refusal(tmp_path: Path, deploy: list[str]):
    """An empty DIR/NAME and a marked one are the demo's: it goes on, to look for terraform
    (absent here), and leaves them as they were when that fails."""
    empty = tmp_path / "empty" / NAME
    empty.mkdir(parents=True)
    marked = tmp_path / "marked" / NAME
    marked.mkdir(parents=True)
    (marked / MARKER).write_text("Made by bluegreen demo.\n")
    (marked / "main.tf").write_text("# a render of the last run\n")
    for folder in (empty, marked):
        before = _snapshot(folder)

        result = _bluegreen("demo", str(SPEC), "--workdir", str(folder.parent), *deploy, cwd=tmp_path)

        assert result.returncode == 1, result.stdout + result.stderr
        assert "no-terraform-here is not an executable" in result.stderr
        assert _snapshot(folder) == before
