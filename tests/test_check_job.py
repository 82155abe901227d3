"""The generated pipeline's `check` job, run the way a GitLab runner runs it.

Its `script:` lines are read from the rendered .gitlab-ci.yml with a YAML parser and run
with bash (`set -eo pipefail`, one shell, as the runner's bash shell does). The release is
reached as a team reaches it: a tagged bare git repository of this project, installed by
pip into a fresh virtualenv (its dependencies from the machine's package index).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bluegreen import __version__
from bluegreen.ci_text import pip_git_url, yaml_str
from bluegreen.cli import main
from bluegreen.validate import validate_file
from hypothesis import given
from hypothesis import strategies as st

from tests.support.rendering import SPECS, rendered, spec_id
from tests.support.template_repo import PROJECT_ROOT, git, make_template_repo

MINIMAL = PROJECT_ROOT / "tests/specs/minimal.yaml"
BIN = Path(sys.executable).parent
IMAGE_PIP = "24.2"
NO_URL_MESSAGE = (
    "bluegreen check did not run: no template URL is recorded (_src_path in .copier-answers.yml)"
    " to install the bluegreen that rendered this repository from;"
    " set ci.bluegreen_package or ci.pip_index_url in service.yaml"
)


class ReferenceLoader(yaml.SafeLoader):
    """GitLab's `!reference [job, key]` read as a plain list."""


ReferenceLoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


def pipeline(repo: Path) -> dict:
    return yaml.load((repo / ".gitlab-ci.yml").read_text(), Loader=ReferenceLoader)


def run_script(lines: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The lines in one bash, stopping at the first that fails, as GitLab's runner does."""
    script = "set -eo pipefail\n" + "\n".join(lines) + "\n"
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def user_env(home: Path, path: str, **extra: str) -> dict[str, str]:
    """A runner's environment: no virtualenv nor checkout of the tests, a home of its own."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "BLUEGREEN_TEMPLATE", "PYTHONHOME")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(
        HOME=str(home),
        PATH=path,
        GIT_AUTHOR_NAME="ci",
        GIT_AUTHOR_EMAIL="ci@example.invalid",
        GIT_COMMITTER_NAME="ci",
        GIT_COMMITTER_EMAIL="ci@example.invalid",
    )
    env.update(extra)
    return env


def render(spec_text: str, dest: Path, *options: str) -> Path:
    spec = dest.parent / f"{dest.name}.yaml"
    spec.write_text(spec_text)
    assert main(["new", str(spec), str(dest), *options]) == 0
    return dest


def with_ci(**ci: str) -> str:
    return MINIMAL.read_text() + "\n" + yaml.safe_dump({"ci": ci})


def committed(repo: Path) -> Path:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "service")
    return repo


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> str:
    """This project (package and template) pushed to a bare repository, tagged v<version>: its file:// URL."""
    root = tmp_path_factory.mktemp("release")
    work = make_template_repo(root / "work", tag=f"v{__version__}")
    bare = root / "bluegreen.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    git(work, "push", "-q", str(bare), "main", f"v{__version__}")
    return bare.as_uri()


def test_the_check_job_installs_the_release_that_rendered_the_repo_and_passes(released, tmp_path):
    """Issue #18: the job's own install and check lines, in a clean virtualenv, against the
    template hosted as a tagged bare git repository: exit 0, the rendering version installed."""
    repo = committed(render(MINIMAL.read_text(), tmp_path / "svc", "--template", released))
    script = pipeline(repo)["check"]["script"]
    assert f"pip install --quiet 'bluegreen @ git+{released}@v{__version__}'" in script
    assert script[-1] == "bluegreen check"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = user_env(
        tmp_path, f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", CI_SERVER_HOST="gitlab.example.com"
    )
    # The pip of the job's image (python:3.12.7 bundles pip 24.2); an older pip's packaging
    # refuses a `git+file:` URL, which has no host, as a requirement's URL.
    upgrade = run_script([f"pip install --quiet pip=={IMAGE_PIP}"], tmp_path, env)
    assert upgrade.returncode == 0, upgrade.stderr
    result = run_script(script, repo, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"up to date (template {__version__})" in result.stdout

    show = subprocess.run(
        [venv / "bin/pip", "show", "bluegreen"], env=env, capture_output=True, text=True, check=False
    )
    fields = dict(line.split(": ", 1) for line in show.stdout.splitlines() if ": " in line)
    assert fields["Version"] == __version__
    assert Path(fields["Location"]).is_relative_to(venv), "installed from the release, not this checkout"
    version = subprocess.run(
        [venv / "bin/bluegreen", "--version"], env=env, capture_output=True, text=True, check=False
    )
    assert version.stdout.strip() == f"bluegreen {__version__}"


def test_without_a_template_url_the_job_says_so_and_exits_3(tmp_path):
    """The bundled template of a release built without template_url records no URL: the job
    cannot install the exact release, says so in one line, and exits 3, which is allowed."""
    repo = rendered(MINIMAL)
    assert "_src_path" not in yaml.safe_load((repo / ".copier-answers.yml").read_text())
    jobs = pipeline(repo)
    result = run_script(jobs["check"]["script"], repo, user_env(tmp_path, os.environ["PATH"]))
    assert result.returncode == 3
    assert result.stdout == NO_URL_MESSAGE + "\n" and result.stderr == ""
    # Only exit 3 is allowed: drift (exit 1) or a spec error (exit 2) fails the job, and as
    # push-ecr waits for the build stage, no deploy runs.
    assert jobs["check"]["allow_failure"] == {"exit_codes": [3]}
    assert jobs["check"]["stage"] == "build"
    push = jobs["push-ecr:production"]
    assert jobs["stages"].index(push["stage"]) > jobs["stages"].index("build") and "needs" not in push


def test_a_range_of_versions_is_written_readably_and_reads_back_the_same(tmp_path):
    """Issue #19: `| tojson` wrote `>=` as `\\u003e`; the requirement is one plain shell word
    in a YAML string, and the index URL a plain YAML value."""
    index = (
        "https://gitlab-ci-token:${CI_JOB_TOKEN}@gitlab.example.com/api/v4/groups/7/-/packages/pypi/simple"
    )
    repo = render(with_ci(bluegreen_package="bluegreen>=0.2,<0.3", pip_index_url=index), tmp_path / "svc")
    text = (repo / ".gitlab-ci.yml").read_text()
    assert "\\u00" not in text
    assert "    - pip install --quiet 'bluegreen>=0.2,<0.3'\n" in text
    assert f"    PIP_INDEX_URL: {index}\n" in text
    check = pipeline(repo)["check"]
    (install,) = [line for line in check["script"] if line.startswith("pip install")]
    assert shlex.split(install) == ["pip", "install", "--quiet", "bluegreen>=0.2,<0.3"]
    assert check["variables"]["PIP_INDEX_URL"] == index


def test_an_index_alone_installs_this_version_from_it(tmp_path):
    index = "https://pypi.example.com/simple"
    repo = render(with_ci(pip_index_url=index), tmp_path / "svc")
    check = pipeline(repo)["check"]
    assert check["variables"]["PIP_INDEX_URL"] == index
    assert check["script"] == [f"pip install --quiet bluegreen=={__version__}", "bluegreen check"]


@given(st.text())
def test_yaml_str_reads_back_as_the_same_string(text):
    assert yaml.safe_load(f"key: {yaml_str(text)}\n") == {"key": text}


def test_pip_git_url():
    assert pip_git_url("https://gitlab.example.com/platform/bluegreen.git") == (
        "git+https://gitlab.example.com/platform/bluegreen.git"
    )
    assert pip_git_url("git@gitlab.example.com:platform/bluegreen.git") == (
        "git+ssh://git@gitlab.example.com/platform/bluegreen.git"
    )
    assert pip_git_url("git+file:///srv/bluegreen") == "git+file:///srv/bluegreen"
    assert pip_git_url("/srv/bluegreen") == ""


def token_line(repo: Path) -> list[str]:
    return [line for line in pipeline(repo)["check"]["script"] if "CI_JOB_TOKEN" in line]


def rewritten(line: list[str], url: str, home: Path, host: str) -> str:
    """The URL git fetches for `url` once `line` ran in a job on GitLab `host`."""
    env = user_env(home, os.environ["PATH"], CI_SERVER_HOST=host, CI_JOB_TOKEN="job-token")
    result = run_script([*line, f"git ls-remote --get-url {url}"], home, env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_release_on_this_gitlab_is_read_with_the_job_token(tmp_path):
    """The template's repository on the pipeline's own GitLab (its `origin`, at a release tag):
    the job token authenticates git for that host only.
    https://docs.gitlab.com/ci/jobs/ci_job_token/ (clone with `gitlab-ci-token:${CI_JOB_TOKEN}`)."""
    url = "https://gitlab.example.com/platform/bluegreen.git"
    template = make_template_repo(tmp_path / "template", tag=f"v{__version__}")
    git(template, "remote", "add", "origin", url)
    repo = render(
        MINIMAL.read_text(), tmp_path / "svc", "--template", str(template), "--vcs-ref", f"v{__version__}"
    )
    assert f"pip install --quiet 'bluegreen @ git+{url}@v{__version__}'" in pipeline(repo)["check"]["script"]
    line = token_line(repo)
    assert len(line) == 1
    (tmp_path / "on-gitlab").mkdir()
    assert rewritten(line, url, tmp_path / "on-gitlab", "gitlab.example.com") == (
        "https://gitlab-ci-token:job-token@gitlab.example.com/platform/bluegreen.git"
    )
    (tmp_path / "elsewhere").mkdir()
    assert rewritten(line, url, tmp_path / "elsewhere", "gitlab.other.example") == url


def test_an_override_on_this_gitlab_gets_the_token_and_one_elsewhere_none(tmp_path):
    package = "bluegreen @ git+https://gitlab.example.com:8443/platform/bluegreen.git@v0.2.0"
    repo = render(with_ci(bluegreen_package=package), tmp_path / "svc")
    (home := tmp_path / "home").mkdir()
    url = "https://gitlab.example.com:8443/platform/bluegreen.git"
    assert rewritten(token_line(repo), url, home, "gitlab.example.com") == (
        "https://gitlab-ci-token:job-token@gitlab.example.com:8443/platform/bluegreen.git"
    )
    from_index = render(with_ci(bluegreen_package="bluegreen==0.2.0"), tmp_path / "index")
    assert token_line(from_index) == []
    over_ssh = render(
        with_ci(
            bluegreen_package="bluegreen @ git+ssh://git@gitlab.example.com/platform/bluegreen.git@v0.2.0"
        ),
        tmp_path / "ssh",
    )
    assert token_line(over_ssh) == []


@pytest.mark.parametrize("spec", [spec for spec in SPECS if spec.parent.name == "specs"], ids=spec_id)
def test_every_job_with_aws_credentials_declares_its_environment(spec):
    """CI/CD variables scoped to an environment (the AWS keys, README.md) reach only jobs that
    declare it; push-ecr and promote deploy nothing, so their action is `prepare`:
    https://docs.gitlab.com/ci/yaml/#environmentaction"""
    jobs = pipeline(rendered(spec))
    names = [env.name for env in validate_file(spec).environments]

    def extends(name: str) -> set[str]:
        parents = jobs[name].get("extends", [])
        parents = [parents] if isinstance(parents, str) else parents
        return set(parents).union(*(extends(parent) for parent in parents))

    stages = [name for name, job in jobs.items() if isinstance(job, dict) and "stage" in job]
    with_credentials = [name for name in stages if ".aws" in extends(name)]
    assert {f"push-ecr:{names[0]}", *(f"promote:{name}" for name in names[1:])} <= set(with_credentials)
    for name in with_credentials:
        environment = jobs[name].get("environment")
        assert environment and environment["name"] == name.split(":", 1)[1], name
        if name.startswith(("push-ecr:", "promote:")):
            assert environment["action"] == "prepare", name


@pytest.mark.parametrize("variant", ["release-url", "override-on-gitlab", "index"])
def test_each_check_job_matches_gitlabs_schema(variant, released, tmp_path):
    if variant == "release-url":
        repo = render(MINIMAL.read_text(), tmp_path / "svc", "--template", released)
    elif variant == "override-on-gitlab":
        package = "bluegreen @ git+https://gitlab.example.com/platform/bluegreen.git@v0.2.0"
        repo = render(with_ci(bluegreen_package=package), tmp_path / "svc")
    else:
        repo = render(with_ci(pip_index_url="https://pypi.example.com/simple"), tmp_path / "svc")
    result = subprocess.run(
        [
            BIN / "check-jsonschema",
            "--builtin-schema",
            "vendor.gitlab-ci",
            "--data-transform",
            "gitlab-ci",
            repo / ".gitlab-ci.yml",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
