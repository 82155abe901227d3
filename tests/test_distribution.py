"""bluegreen as users get it: a built wheel in a clean virtualenv, the template reached by URL.

Nothing here imports the checkout: the wheel is built from a copy of the tracked files
(as a fresh clone would be), installed with its dependencies into a new virtualenv, and
every command runs from a folder outside the checkout with a scrubbed environment. The
template is reached the way a team reaches its platform's template: a tagged bare git
repository behind a URL (`file://.../bluegreen.git`; Copier treats a `*.git` URL like any
remote), and Copier is the one installed beside the wheel
(`pipx install copier && pipx inject copier bluegreen` gives the same virtualenv).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.template_repo import PROJECT_ROOT, git, make_template_repo
from tests.test_check_job import ReferenceLoader

SPEC = PROJECT_ROOT / "tests/specs/minimal.yaml"
MULTI_ENV_SPEC = PROJECT_ROOT / "tests/specs/full.yaml"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH, no virtualenv of the tests, no template override."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "BLUEGREEN_TEMPLATE", "PYTHONHOME")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(
        GIT_AUTHOR_NAME="user",
        GIT_AUTHOR_EMAIL="user@example.invalid",
        GIT_COMMITTER_NAME="user",
        GIT_COMMITTER_EMAIL="user@example.invalid",
    )
    env.update(extra)
    return env


def run(command: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=clean_env(**extra), capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the tracked files alone, as `pip wheel` builds it for a user."""
    source = make_template_repo(tmp_path_factory.mktemp("source") / "bluegreen", tag=None)
    out = tmp_path_factory.mktemp("dist")
    result = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            ".",
        ],
        source,
    )
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("bluegreen-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv holding the wheel and what it depends on (Copier among them), nothing else."""
    root = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    result = run([str(root / "bin/python"), "-m", "pip", "install", "-q", str(wheel)], root.parent)
    assert result.returncode == 0, result.stderr
    return root / "bin"


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder with no bluegreen checkout above it."""
    return tmp_path_factory.mktemp("elsewhere")


def release(work: Path, bare: Path, tag: str) -> None:
    git(work, "tag", tag)
    git(work, "push", "-q", str(bare), "main", tag)


@pytest.fixture(scope="module")
def template_remote(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The template's repository as a platform team hosts it: work tree, bare remote, its URL; v0.2.0 tagged."""
    root = tmp_path_factory.mktemp("remote")
    work = make_template_repo(root / "work", tag=None)
    bare = root / "bluegreen.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    release(work, bare, "v0.2.0")
    return work, bare, bare.as_uri()


def test_the_wheel_carries_the_template_and_the_schema(venv: Path, outside: Path):
    result = run(
        [
            str(venv / "python"),
            "-c",
            "import bluegreen, bluegreen.resources as r; print(bluegreen.__file__); print(r.template_root())",
        ],
        outside,
    )
    assert result.returncode == 0, result.stderr
    package, template = result.stdout.split()
    assert str(venv.parent) in package and str(PROJECT_ROOT) not in package
    assert Path(template) == Path(package).parent / "_template"
    for part in ("copier.yml", "schema/service.schema.json", "template/deploy/execute.sh.jinja", "partials"):
        assert (Path(template) / part).exists(), part
    assert not any(Path(package).parent.parent.glob("generator")), "no generic top-level package `generator`"


def test_every_command_works_from_another_folder(venv: Path, outside: Path):
    spec = outside / "service.yaml"
    spec.write_text(SPEC.read_text())
    validate = run([str(venv / "bluegreen"), "validate", "service.yaml"], outside)
    assert validate.returncode == 0, validate.stderr
    assert "OK: service minimal" in validate.stdout
    schema = run([str(venv / "bluegreen"), "schema"], outside)
    assert schema.returncode == 0 and '"$schema"' in schema.stdout
    explain = run([str(venv / "bluegreen"), "explain", "service.yaml"], outside)
    assert explain.returncode == 0, explain.stderr
    assert "ESTIMATE" in explain.stdout
    new = run([str(venv / "bluegreen"), "new", "service.yaml", "minimal-service"], outside)
    assert new.returncode == 0, new.stderr
    repo = outside / "minimal-service"
    assert (repo / "deploy/terraform/environments/production/main.tf").is_file()
    answers = yaml.safe_load((repo / ".copier-answers.yml").read_text())
    # The bundled template is recorded as its release; this wheel was built with no
    # template_url, so no URL is recorded, and `new` says what `copier update` will need.
    config = yaml.safe_load((PROJECT_ROOT / "copier.yml").read_text())
    assert config["template_url"]["default"] == "" and "_src_path" not in answers
    assert "`copier update` needs `_src_path:" in new.stderr
    version = run([str(venv / "bluegreen"), "--version"], outside).stdout.split()[-1]
    assert answers["_commit"] == f"v{version}"
    # Nor can the pipeline's check job install this release: it says so and exits 3, allowed.
    check = yaml.load((repo / ".gitlab-ci.yml").read_text(), Loader=ReferenceLoader)["check"]
    assert check["script"][-1] == "exit 3" and "no template URL is recorded" in check["script"][0]
    assert check["allow_failure"] == {"exit_codes": [3]}
    for path in repo.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert str(outside) not in text and str(venv.parent) not in text, path
            # `file://${WORK_DIR}/...` is the AWS CLI's syntax for a parameter file at run time.
            assert not re.search(r"file://(?!\$\{?[A-Z_]+)", text), path


def test_copier_copy_then_update_from_a_tagged_url(venv: Path, outside: Path, template_remote):
    """Copier + the wheel only: copy from the URL, commit, edit, a new release, update keeps the edit."""
    work, bare, url = template_remote
    dest = outside / "copied"
    copy = run(
        [str(venv / "copier"), "copy", "--trust", "--defaults", "--data-file", str(SPEC), url, str(dest)],
        outside,
    )
    assert copy.returncode == 0, copy.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == url and answers["_commit"] == "v0.2.0"
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "service from template v0.2.0")
    readme = dest / "README.md"
    readme.write_text(readme.read_text() + "\nOn call: #payments-oncall\n")
    git(dest, "commit", "-q", "-am", "team edit")

    # v0.2.1: a template-only change (a note in every environment's main.tf).
    (main_tf,) = (work / "template/deploy/terraform/environments").glob("*/main.tf.jinja")
    main_tf.write_text(main_tf.read_text() + "\n# Template release 0.2.1.\n")
    git(work, "commit", "-q", "-am", "v0.2.1: main.tf note")
    release(work, bare, "v0.2.1")

    check = run([str(venv / "bluegreen"), "check"], dest)
    assert check.returncode == 3, check.stdout + check.stderr
    assert "template 0.2.1 is available (this repo uses 0.2.0)" in check.stdout

    update = run([str(venv / "copier"), "update", "--trust", "--defaults"], dest)
    assert update.returncode == 0, update.stderr
    assert (
        "# Template release 0.2.1." in (dest / "deploy/terraform/environments/production/main.tf").read_text()
    )
    assert "On call: #payments-oncall" in readme.read_text()
    assert not re.search(r"^(<{7}|>{7}) ", readme.read_text(), re.MULTILINE)
    assert yaml.safe_load((dest / ".copier-answers.yml").read_text())["_commit"] == "v0.2.1"
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "template v0.2.1")
    after = run([str(venv / "bluegreen"), "check"], dest)
    assert after.returncode == 0, after.stdout + after.stderr


def test_bluegreen_new_from_a_url_and_sync(venv: Path, outside: Path, template_remote):
    """`--template URL` and BLUEGREEN_TEMPLATE reach the same release; sync re-renders from the URL."""
    _, _, url = template_remote
    spec = outside / "multi.yaml"
    spec.write_text(MULTI_ENV_SPEC.read_text())
    by_option = run(
        [str(venv / "bluegreen"), "new", "multi.yaml", "a", "--template", url, "--vcs-ref", "v0.2.0"], outside
    )
    assert by_option.returncode == 0, by_option.stderr
    by_env = run(
        [str(venv / "bluegreen"), "new", "multi.yaml", "b", "--vcs-ref", "v0.2.0"],
        outside,
        BLUEGREEN_TEMPLATE=url,
    )
    assert by_env.returncode == 0, by_env.stderr
    for name in ("a", "b"):
        answers = yaml.safe_load((outside / name / ".copier-answers.yml").read_text())
        assert answers["_src_path"] == url and answers["_commit"] == "v0.2.0"
    repo = outside / "a"
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "new service")
    service = repo / "service.yaml"
    service.write_text(service.read_text().replace("owner: team-payments", "owner: team-billing"))
    git(repo, "commit", "-q", "-am", "new owner")
    sync = run([str(venv / "bluegreen"), "sync"], repo)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert "team-billing" in (repo / "README.md").read_text()


def offline(command: list[str]) -> list[str]:
    """`command` in a network namespace of its own, with no interface but loopback: a clone
    of any URL but a local one fails there."""
    assert shutil.which("unshare"), "unshare (util-linux) runs the offline day-one loop"
    return ["unshare", "--net", "--", *command]


def test_day_one_loop_offline_with_the_bundled_template(venv: Path, tmp_path: Path):
    """A new user's everyday loop from the wheel, with no network: new, commit, edit the spec,
    sync, check, check and sync from a subfolder. The repository records the installed
    bluegreen's release, so its bundled template is that release and nothing is cloned."""
    spec = tmp_path / "service.yaml"
    spec.write_text(SPEC.read_text())
    bluegreen = str(venv / "bluegreen")
    assert run(offline([bluegreen, "new", "service.yaml", "svc"]), tmp_path).returncode == 0
    repo = tmp_path / "svc"
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "new service")
    service = repo / "service.yaml"
    service.write_text(service.read_text() + 'description: "Takes card payments"\n')
    git(repo, "commit", "-q", "-am", "describe the service")

    sync = run(offline([bluegreen, "sync"]), repo)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert "Takes card payments" in (repo / "README.md").read_text()
    git(repo, "commit", "-q", "-am", "sync")
    check = run(offline([bluegreen, "check"]), repo)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "up to date (template 0.2.0)" in check.stdout
    assert "no template URL is recorded" in check.stdout

    # From a subfolder, the repository above it.
    subfolder = repo / "deploy/terraform"
    service.write_text(service.read_text().replace("Takes card payments", "Takes payments"))
    git(repo, "commit", "-q", "-am", "new description")
    drift = run(offline([bluegreen, "check"]), subfolder)
    assert drift.returncode == 1 and "differs from service.yaml: changed: README.md" in drift.stdout, (
        drift.stdout
    )
    assert run(offline([bluegreen, "sync"]), subfolder).returncode == 0
    git(repo, "commit", "-q", "-am", "sync")
    assert run(offline([bluegreen, "check"]), subfolder).returncode == 0

    # A release built with a template URL that cannot be reached from here: the drift check
    # stands, the lookup of newer releases is a one-line note.
    answers_file = repo / ".copier-answers.yml"
    answers_file.write_text(
        answers_file.read_text().replace(
            "_commit: v0.2.0\n",
            "_commit: v0.2.0\n_src_path: https://gitlab.example.invalid/platform/bluegreen.git\n",
        )
    )
    git(repo, "commit", "-q", "-am", "the platform's template URL")
    unreachable = run(offline([bluegreen, "check"]), subfolder)
    assert unreachable.returncode == 0, unreachable.stdout + unreachable.stderr
    (note,) = [line for line in unreachable.stdout.splitlines() if line.startswith("note:")]
    assert "newer template releases were not looked up (https://gitlab.example.invalid/" in note
    assert run(offline([bluegreen, "sync"]), repo).returncode == 0
    assert "_src_path: https://gitlab.example.invalid/" in answers_file.read_text()
    assert not git(repo, "status", "--porcelain")
