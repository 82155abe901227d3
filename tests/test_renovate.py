"""renovate.json: a real Renovate (from npm) finds the next template tag through its copier manager.

Renovate's copier manager (https://docs.renovatebot.com/modules/manager/copier) reads
`_src_path` and `_commit` from .copier-answers.yml, looks the tags up with the git-tags
datasource (pep440 versioning), and runs `copier update --skip-answered --defaults
[--trust] --answers-file .copier-answers.yml --vcs-ref <tag>`; `--trust` only with the
self-hosted `allowScripts` and the repository's `ignoreScripts: false`.

The local platform (https://docs.renovatebot.com/modules/platform/local) only looks updates
up: it creates no branch, so it never runs the manager's update. The test therefore takes
the new tag from Renovate's JSON log and runs the command the manager runs (its options
checked against the installed Renovate's own source) in the service repository.

The template is served over dumb HTTP from a local bare repository: Renovate turns any
other scheme (file://) into an https URL for the tag lookup.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from bluegreen import __version__
from bluegreen.render import render_new

from tests.support.template_repo import PROJECT_ROOT, git, make_template_repo

SPEC = PROJECT_ROOT / "tests/specs/minimal.yaml"
RELEASE = f"v{__version__}"
# Renovate 44 asks for Node ^24.11 (its engines field); npm's `node` package brings one.
NPM_PACKAGES = ["renovate@44", "node@24"]
NEXT_NOTE = "A note only the next template release carries."


@pytest.fixture(scope="session")
def renovate_bin(tmp_path_factory) -> Path:
    """Renovate and a Node it accepts, installed from npm once per session."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: the Renovate test installs renovate from the npm registry")
    prefix = tmp_path_factory.mktemp("renovate-npm")
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), *NPM_PACKAGES],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"npm install {' '.join(NPM_PACKAGES)} failed:\n{result.stderr[-3000:]}", pytrace=False)
    return prefix / "node_modules/.bin"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def template_url(tmp_path) -> Iterator[str]:
    """A template repository with the release `v<version>` and a newer tag, over HTTP."""
    work = make_template_repo(tmp_path / "template-work", tag=RELEASE)
    readme = work / "template/README.md.jinja"
    readme.write_text(readme.read_text() + f"\n{NEXT_NOTE}\n")
    git(work, "commit", "-qam", "next release")
    major, minor, patch = __version__.split(".")[:3]
    next_tag = f"v{major}.{minor}.{int(patch) + 1}"
    git(work, "tag", next_tag)
    served = tmp_path / "www"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(served / "bluegreen.git"))
    git(served / "bluegreen.git", "update-server-info")  # what a dumb-HTTP client reads
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bluegreen.git"
    finally:
        server.shutdown()
        server.server_close()


def _tools_path(renovate_bin: Path) -> str:
    """Renovate's Node first, then this interpreter's bin (copier next to bluegreen)."""
    return os.pathsep.join([str(renovate_bin), str(Path(sys.executable).parent), os.environ["PATH"]])


def _renovate(repo: Path, renovate_bin: Path) -> list[dict]:
    """`renovate --platform=local` in `repo` with the self-hosted settings the README names."""
    base = Path(tempfile.mkdtemp(prefix="renovate-base-"))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RENOVATE_", "GITHUB_", "GITLAB_", "NPM_CONFIG"))
    }
    env.update(
        {
            "PATH": _tools_path(renovate_bin),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "debug",
            "RENOVATE_BASE_DIR": str(base),
            "RENOVATE_ALLOW_SCRIPTS": "true",
            "RENOVATE_BINARY_SOURCE": "global",
        }
    )
    try:
        result = subprocess.run(
            [str(renovate_bin / "renovate"), "--platform=local", "--dry-run=lookup"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _updates(log: list[dict]) -> list[dict]:
    """The copier manager's dependencies with their updates, from Renovate's log."""
    [entry] = [line for line in log if line.get("msg") == "packageFiles with updates"]
    return [dep for package in entry["config"].get("copier", []) for dep in package["deps"]]


def test_renovate_finds_the_next_template_tag_and_its_update_brings_the_release_in(
    renovate_bin, template_url, tmp_path
):
    repo = render_new(SPEC, tmp_path / "service", template=template_url, vcs_ref=RELEASE)
    answers = yaml.safe_load((repo / ".copier-answers.yml").read_text())
    # What the copier manager needs: a URL it can list the tags of, at a release tag.
    assert answers["_src_path"] == template_url and answers["_commit"] == RELEASE
    assert json.loads((repo / "renovate.json").read_text()) == {
        "$schema": "https://docs.renovatebot.com/renovate-schema.json",
        "enabledManagers": ["copier"],
        "ignoreScripts": False,
    }
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "new service")

    log = _renovate(repo, renovate_bin)
    config = next(line["config"] for line in log if line.get("msg") == "Repository config")
    assert (config["enabledManagers"], config["ignoreScripts"]) == (["copier"], False)
    assert any(line.get("msg") == "No config migration necessary" for line in log)
    [dep] = _updates(log)
    assert (dep["depName"], dep["currentValue"], dep["datasource"]) == (template_url, RELEASE, "git-tags")
    [update] = dep["updates"]
    new_tag = update["newValue"]
    assert new_tag != RELEASE and new_tag.startswith("v")
    assert NEXT_NOTE not in (repo / "README.md").read_text()

    # The manager's command, as the installed Renovate builds it (allowScripts and
    # ignoreScripts: false add --trust, which bluegreen's extension and migration need).
    artifacts = (renovate_bin.parent / "renovate/dist/modules/manager/copier/artifacts.js").read_text()
    assert '"--skip-answered", "--defaults"' in artifacts and 'command.push("--trust")' in artifacts
    command = ["copier", "update", "--skip-answered", "--defaults", "--trust"]
    command += ["--answers-file", ".copier-answers.yml", "--vcs-ref", new_tag]
    env = {**os.environ, "PATH": _tools_path(renovate_bin)}
    result = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]

    changed = git(repo, "status", "--porcelain").splitlines()
    # The release moves, and with it the bluegreen the check job installs (git+URL@tag).
    assert sorted(changed) == [" M .copier-answers.yml", " M .gitlab-ci.yml", " M README.md"]
    assert NEXT_NOTE in (repo / "README.md").read_text()
    pipeline = (repo / ".gitlab-ci.yml").read_text()
    assert f".git@{new_tag}" in pipeline and f".git@{RELEASE}" not in pipeline
    updated = yaml.safe_load((repo / ".copier-answers.yml").read_text())
    assert (updated["_commit"], updated["_src_path"]) == (new_tag, template_url)


def test_ci_renovate_false_leaves_renovate_json_out(tmp_path):
    spec = yaml.safe_load(SPEC.read_text())
    spec["ci"] = {**(spec.get("ci") or {}), "renovate": False}
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    repo = render_new(path, tmp_path / "service")
    assert not (repo / "renovate.json").exists()
    assert "renovate.json" not in (repo / "README.md").read_text()
    assert (render_new(SPEC, tmp_path / "default") / "renovate.json").is_file()
