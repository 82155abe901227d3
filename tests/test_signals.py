"""SIGTERM, SIGHUP and SIGINT during `bluegreen new` and `bluegreen sync`: nothing left behind.

Each run is the installed command in a process of its own, with a temp folder of its
own (TMPDIR) that must be empty again afterwards, signalled at a point drawn at random
(seeded, so a failure replays) across the time a run takes. The signal goes to the
bluegreen process alone, as `kill PID` sends it, not to its process group: bluegreen
passes it on to the git processes Copier started. A signal that comes after the command
has finished, while the process exits (its handlers gone), ends it the default way; the
work is complete then, and that is checked instead.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.hcl import block, parse
from tests.support.template_repo import PROJECT_ROOT, git, make_template_repo
from tests.support.template_repo import url as template_url

SPEC = PROJECT_ROOT / "tests/specs/minimal.yaml"
SEED = 13
STOPPED_LINE = "bluegreen: stopped by {name}; what it had started is undone"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root but .git, as bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def start(args: list[str], tmpdir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.Popen(
        [sys.executable, "-m", "bluegreen.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_handlers(process: subprocess.Popen[str]) -> None:
    """Until the process has installed its handlers (SigCgt in /proc names SIGTERM), so
    that the signal meets bluegreen, not Python's start-up."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        status = Path(f"/proc/{process.pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.005)


def interrupt(args: list[str], tmpdir: Path, signum: int, delay: float) -> tuple[int, str]:
    process = start(args, tmpdir)
    wait_for_handlers(process)
    time.sleep(delay)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_template_repo(tmp_path_factory.mktemp("template") / "bluegreen")


@pytest.fixture(scope="module")
def full_run(template, tmp_path_factory) -> float:
    """How long an uninterrupted `new` takes here: the span the signal points are drawn from."""
    work = tmp_path_factory.mktemp("timing")
    (work / "tmp").mkdir()
    began = time.monotonic()
    process = start(["new", str(SPEC), str(work / "out"), "--template", template_url(template)], work / "tmp")
    wait_for_handlers(process)
    began = time.monotonic()
    assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    return time.monotonic() - began


POINTS = [(signal.SIGTERM, i) for i in range(6)] + [(signal.SIGHUP, 6), (signal.SIGINT, 7)]


@pytest.mark.parametrize(("signum", "index"), POINTS, ids=[f"{s.name}-{i}" for s, i in POINTS])
def test_new_stopped_at_a_random_point_leaves_nothing(template, full_run, tmp_path, signum, index):
    delay = random.Random(SEED * 100 + index).uniform(0, full_run * 1.1)
    work = tmp_path / "work"
    work.mkdir()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    dest = work / "out" / "service"  # its parent is created by new, and removed again

    code, err = interrupt(
        ["new", str(SPEC), str(dest), "--template", template_url(template)], tmpdir, signum, delay
    )

    assert list(tmpdir.iterdir()) == [], f"left in the temp folder after {delay:.2f}s"
    if code in (0, -signum):  # the render finished before the signal came (-signum: while exiting)
        assert tree(dest)["service.yaml"] == SPEC.read_bytes()
        return
    assert code == 128 + signum, err
    assert err.splitlines() == [STOPPED_LINE.format(name=signum.name)], err
    assert list(work.iterdir()) == [], f"left beside DEST after {delay:.2f}s"


def test_new_into_an_existing_empty_dest_keeps_it_empty_and_its_mode(template, full_run, tmp_path):
    dest = tmp_path / "out"
    dest.mkdir(mode=0o750)
    dest.chmod(0o750)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()

    code, _ = interrupt(
        ["new", str(SPEC), str(dest), "--template", template_url(template)],
        tmpdir,
        signal.SIGTERM,
        full_run / 2,
    )

    assert code in (0, 143)
    assert oct(dest.stat().st_mode & 0o777) == oct(0o750)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tmp"]
    assert list(tmpdir.iterdir()) == []
    if code == 143:
        assert list(dest.iterdir()) == []


@pytest.fixture(scope="module")
def committed_repo(template, tmp_path_factory) -> Path:
    """A generated repo, committed, whose service.yaml then changed (committed too): sync has work."""
    from bluegreen.render import render_new

    repo = tmp_path_factory.mktemp("repo") / "minimal"
    render_new(SPEC, repo, template=template_url(template))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "generated")
    spec = repo / "service.yaml"
    spec.write_text(spec.read_text() + "scaling:\n  max: 6\n")
    git(repo, "commit", "-q", "-am", "scale to 6")
    return repo


@pytest.fixture(scope="module")
def sync_run(committed_repo, tmp_path_factory) -> float:
    import shutil

    repo = Path(
        shutil.copytree(committed_repo, tmp_path_factory.mktemp("sync-timing") / "minimal", symlinks=True)
    )
    tmpdir = repo.parent / "tmp"
    tmpdir.mkdir()
    process = start(["sync", str(repo)], tmpdir)
    wait_for_handlers(process)
    began = time.monotonic()
    assert process.wait(timeout=120) == 0
    return time.monotonic() - began


SYNC_POINTS = [(signal.SIGTERM, i) for i in range(4)] + [(signal.SIGHUP, 4)]


@pytest.mark.parametrize(("signum", "index"), SYNC_POINTS, ids=[f"{s.name}-{i}" for s, i in SYNC_POINTS])
def test_sync_stopped_at_a_random_point_leaves_the_repo_as_committed(
    committed_repo, sync_run, tmp_path, signum, index
):
    import shutil

    repo = Path(shutil.copytree(committed_repo, tmp_path / "minimal", symlinks=True))
    before = tree(repo)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    delay = random.Random(SEED * 1000 + index).uniform(0, sync_run * 1.1)

    code, err = interrupt(["sync", str(repo)], tmpdir, signum, delay)

    assert list(tmpdir.iterdir()) == [], f"left in the temp folder after {delay:.2f}s"
    if code in (0, -signum):  # the sync finished before the signal came (-signum: while exiting)
        main_tf = parse(repo / "deploy/terraform/environments/production/main.tf")
        assert block(main_tf, "module", "scaling")["max_capacity"] == 6
        return
    assert code == 128 + signum, err
    assert err.splitlines() == [STOPPED_LINE.format(name=signum.name)], err
    assert tree(repo) == before, f"the repo changed after {delay:.2f}s"
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


@pytest.mark.parametrize("index", range(3))
def test_check_stopped_at_a_random_point_leaves_no_clone(committed_repo, sync_run, tmp_path, index):
    """check works in a throwaway clone in the temp folder: a signal removes it too."""
    import shutil

    repo = Path(shutil.copytree(committed_repo, tmp_path / "minimal", symlinks=True))
    before = tree(repo)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    delay = random.Random(SEED * 10000 + index).uniform(0, sync_run * 1.5)

    code, err = interrupt(["check", str(repo)], tmpdir, signal.SIGTERM, delay)

    assert list(tmpdir.iterdir()) == [], f"left in the temp folder after {delay:.2f}s"
    assert tree(repo) == before
    if code not in (1, -signal.SIGTERM):  # 1: finished, the spec changed since the render
        assert code == 143, err
        assert err.splitlines() == [STOPPED_LINE.format(name="SIGTERM")], err


def _children(pid: int) -> list[str]:
    """The command lines of a process's children (Linux /proc)."""
    lines = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                lines.append(Path(f"/proc/{child}/cmdline").read_text().replace("\0", " "))
            except OSError:
                continue
    return lines


def test_check_stopped_while_copier_check_update_runs_leaves_no_clone(committed_repo, tmp_path):
    """The signal at a chosen point: while check's `copier check-update` child clones the
    template. The child is stopped the Ctrl-C way, so Copier removes its clone itself."""
    import shutil

    repo = Path(shutil.copytree(committed_repo, tmp_path / "minimal", symlinks=True))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    process = start(["check", str(repo)], tmpdir)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if any("check-update" in line for line in _children(process.pid)) and any(tmpdir.iterdir()):
            break
        time.sleep(0.01)
    assert process.poll() is None, "check finished before its check-update child was seen"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)

    assert process.returncode == 143, err
    assert err.splitlines() == [STOPPED_LINE.format(name="SIGTERM")]
    assert list(tmpdir.iterdir()) == []


def test_a_python_child_stopped_while_it_starts_prints_nothing(tmp_path):
    """A stop reaching a Python child (the template's migration under Copier) while it is still
    starting: SIGINT would make it print "Fatal Python error: init_import_site" and a
    KeyboardInterrupt traceback into the stderr it shares with bluegreen; it gets SIGTERM."""
    script = (
        "import subprocess, sys, time\n"
        "from bluegreen import cli\n"
        "children = [subprocess.Popen([sys.executable, '-c', 'import json, email, http.client'])"
        " for _ in range(4)]\n"
        "time.sleep(0.01)\n"
        "cli._stop_children()\n"
        "print([child.returncode for child in children])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "a child stopped during its start-up printed into the shared stderr"


def test_copier_children_are_stopped_with_sigint_to_clean_up_their_clones(tmp_path):
    from bluegreen import cli

    # The `copier` console script as installed: the interpreter running a file named copier. It
    # sleeps so that it still runs when looked at (`copier --help` may already have exited).
    script = tmp_path / "copier"
    script.write_text("import time\ntime.sleep(30)\n")
    copier = subprocess.Popen([sys.executable, str(script)])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert cli._is_copier(copier.pid)
        assert not cli._is_copier(other.pid)
    finally:
        for child in (copier, other):
            child.kill()
            child.wait()
