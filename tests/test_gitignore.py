""".gitignore of a generated repository: Terraform's working files and each runtime's build
output stay out of git, the provider lock file stays in, and `bluegreen sync` keeps working."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from bluegreen.lifecycle import sync
from bluegreen.model import BUILD_OUTPUT
from bluegreen.render import render_new

from tests.support.template_repo import PROJECT_ROOT, git
from tests.support.terraform_tools import require_terraform, run_terraform

SPEC = PROJECT_ROOT / "tests/specs/minimal.yaml"  # no state block: the local backend


def commit(repo, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def ignored(repo, *paths: str) -> set[str]:
    """The paths git's own ignore rules exclude (`git check-ignore`)."""
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=repo, capture_output=True, text=True, check=False
    )
    return set(result.stdout.split())


def example_paths(entries) -> list[str]:
    """A path each ignore entry matches: a file inside a folder entry, a name for a glob."""
    return sorted(e.rstrip("/") + "/x" if e.endswith("/") else e.replace("*", "built") for e in entries)


def test_terraform_init_leaves_only_the_lock_file_and_sync_accepts_the_tree(tmp_path):
    _, mirror = require_terraform()
    repo = render_new(SPEC, tmp_path / "minimal")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "new service")
    model_env = yaml.safe_load((repo / ".copier-answers.yml").read_text())["environments"] or {}
    env = next(iter(model_env), "production")
    root = repo / "deploy/terraform/environments" / env
    # The init the pipeline and a laptop run: the root's own (local) backend, modules, providers.
    run_terraform(root, "init", "-input=false", "-no-color", f"-plugin-dir={mirror}")
    assert (root / ".terraform").is_dir() and (root / ".terraform.lock.hcl").is_file()

    lock = f"deploy/terraform/environments/{env}/.terraform.lock.hcl"
    assert git(repo, "status", "--porcelain", "--untracked-files=all").splitlines() == [f"?? {lock}"]

    # What terraform and deploy/execute.sh write besides: local state and its backup,
    # crash logs, saved plans, the deploy job's dotenv report.
    written = [
        f"deploy/terraform/environments/{env}/terraform.tfstate",
        f"deploy/terraform/environments/{env}/terraform.tfstate.backup",
        f"deploy/terraform/environments/{env}/.terraform.tfstate.lock.info",
        f"deploy/terraform/environments/{env}/crash.log",
        f"deploy/terraform/environments/{env}/crash.20261204.log",
        f"deploy/terraform/environments/{env}/tfplan",
        f"deploy/terraform/environments/{env}/production.tfplan",
        "deploy.env",
    ]
    assert ignored(repo, *written, lock) == set(written)

    commit(repo, "provider lock file")
    result = sync(repo)  # refuses a dirty tree: .terraform/ must not count
    assert not result.conflicts
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


@pytest.mark.parametrize("runtime", sorted(BUILD_OUTPUT))
def test_each_runtime_build_output_is_ignored_by_git_and_docker(runtime, tmp_path):
    spec = yaml.safe_load(SPEC.read_text())
    spec["app"]["runtime"] = runtime
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    repo = render_new(path, tmp_path / "service")
    git(repo, "init", "-q", "-b", "main")
    outputs = example_paths(BUILD_OUTPUT[runtime])
    assert ignored(repo, *outputs) == set(outputs)
    # Another runtime's output is not this repository's business.
    others = example_paths(
        {e for r, entries in BUILD_OUTPUT.items() for e in entries} - set(BUILD_OUTPUT[runtime])
    )
    assert not ignored(repo, *others)
    dockerignore = (repo / ".dockerignore").read_text().splitlines()
    assert set(BUILD_OUTPUT[runtime]) <= set(dockerignore)
    # Sources and the lock file are never ignored.
    assert not ignored(
        repo, "service.yaml", "Dockerfile", "deploy/terraform/environments/x/.terraform.lock.hcl"
    )
