"""Which template release a repository records, and where sync and check render it from.

A repository records the release it was rendered from (.copier-answers.yml: `_commit`,
and `_src_path` where a URL is known). The release of the installed bluegreen is its own
bundled template, so the everyday loop needs no network (tests/test_distribution.py runs
it from a wheel with none); another release needs the recorded URL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from bluegreen import __version__
from bluegreen.cli import main
from bluegreen.copier_extension import recorded_answers, release_of
from bluegreen.lifecycle import Drift, check, sync
from bluegreen.render import render_new
from bluegreen.resources import template_root

from tests.support.template_repo import PROJECT_ROOT, git, make_template_repo

SPEC = PROJECT_ROOT / "tests/specs/minimal.yaml"
RELEASE = f"v{__version__}"
URL = "https://gitlab.example.com/platform/bluegreen.git"


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Path:
    """`bluegreen new` with the bundled template (no --template), committed."""
    repo = render_new(SPEC, tmp_path_factory.mktemp("new") / "minimal")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "new service")
    return repo


@pytest.fixture
def repo(committed, tmp_path) -> Path:
    return Path(shutil.copytree(committed, tmp_path / "minimal", symlinks=True))


def test_the_bundled_template_is_recorded_as_the_installed_release(committed):
    answers = yaml.safe_load((committed / ".copier-answers.yml").read_text())
    # This checkout's copier.yml sets no template_url: nothing to record but the release.
    assert answers["_commit"] == RELEASE and "_src_path" not in answers


def test_a_release_built_with_a_template_url_records_it():
    assert release_of(str(template_root()), "v0.1.9-4-g1234567", URL) == (URL, RELEASE)
    record = yaml.safe_load(recorded_answers({"_src_path": str(template_root()), "name": "x"}, URL))
    assert record == {"_commit": RELEASE, "_src_path": URL, "name": "x"}


def test_a_checkout_is_recorded_as_its_tag_and_remote_or_without_a_url(tmp_path):
    checkout = make_template_repo(tmp_path / "checkout", tag="v0.3.0")
    # At a tag, without a remote: nobody else can reach it.
    assert release_of(str(checkout), "v0.3.0", URL) == ("", "v0.3.0")
    git(checkout, "remote", "add", "origin", "https://gitlab.example.com/team/fork.git")
    assert release_of(str(checkout), "v0.3.0", URL) == ("https://gitlab.example.com/team/fork.git", "v0.3.0")
    # Between tags: a commit of this machine, never next to a URL that may not have it.
    (checkout / "README.md").write_text("changed\n")
    commit(checkout, "local change")
    assert release_of(str(checkout), "v0.3.0-1-gabcdef0", URL) == ("", "v0.3.0-1-gabcdef0")
    # A URL the user passed is kept as given.
    assert release_of("git+file:///srv/bluegreen", "v0.3.0", URL) == ("git+file:///srv/bluegreen", "v0.3.0")


def test_a_committed_deletion_is_restored_by_sync_and_reported_by_check(repo):
    dockerignore = (repo / ".dockerignore").read_bytes()
    git(repo, "rm", "-q", ".dockerignore")
    git(repo, "mv", "deploy/execute.sh", "deploy/run.sh")
    commit(repo, "drop .dockerignore, rename execute.sh")
    result = check(repo)
    assert Drift("missing", ".dockerignore") in result.drift
    assert Drift("missing", "deploy/execute.sh") in result.drift
    synced = sync(repo)
    assert synced.conflicts == []
    assert (repo / ".dockerignore").read_bytes() == dockerignore
    assert (repo / "deploy/execute.sh").is_file()
    assert (repo / "deploy/run.sh").is_file()  # the team's copy is theirs to remove


def test_sync_from_a_subfolder_works_on_the_repository_above(repo):
    (repo / "service.yaml").write_text((repo / "service.yaml").read_text() + 'description: "From below"\n')
    commit(repo, "describe")
    result = sync(repo / "deploy/terraform")
    assert result.repo == repo.absolute() and "README.md" in result.changed
    assert "From below" in (repo / "README.md").read_text()


def test_another_release_without_a_url_is_refused_in_one_line(repo, capsys):
    answers = repo / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace(f"_commit: {RELEASE}", "_commit: v0.1.0"))
    commit(repo, "an older release")
    assert main(["sync", str(repo)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "_src_path: expected the template's git URL, to render release v0.1.0" in err
    assert f"bluegreen {__version__} is installed" in err
    assert not git(repo, "status", "--porcelain")
