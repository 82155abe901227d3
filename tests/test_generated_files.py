"""The generated repository passes the real linters and reads as if written by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bluegreen.validate import validate_file

from tests.support.rendering import SPECS, rendered, spec_id

BIN = Path(sys.executable).parent


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, check=False)


def text_files(repo: Path) -> list[Path]:
    return [p for p in sorted(repo.rglob("*")) if p.is_file() and ".terraform" not in p.parts]


def machine_paths(repo: Path) -> set[str]:
    """Paths of this machine a render could leak: the checkout (the template), the folder rendered
    into, the home folder, the Python installation (the bundled template of an installed wheel)."""
    from tests.support.template_repo import PROJECT_ROOT

    return {str(PROJECT_ROOT), str(repo.parent), str(Path.home()) + "/", sys.prefix, sys.base_prefix}


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_no_path_of_this_machine(spec):
    """A repository works on every machine: no file:// URL, no absolute path of the one it was rendered on
    (the AWS CLI's `file://${VAR}` parameter syntax aside)."""
    import re

    repo = rendered(spec)
    leaks = machine_paths(repo)
    for file in text_files(repo):
        text = file.read_text()
        name = file.relative_to(repo)
        assert not re.search(r"file://(?!\$\{?[A-Z_]+)", text), f"{name}: file:// URL"
        assert not [path for path in leaks if path in text], f"{name}: a path of this machine"
    answers = yaml.safe_load((repo / ".copier-answers.yml").read_text())
    # No template URL configured (copier.yml's template_url is empty): nothing is recorded rather
    # than this machine's checkout; with one, it is the URL.
    assert "://" in answers.get("_src_path", "://"), "the template is recorded by URL or not at all"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_no_template_debris(spec):
    """No doubled blank lines, trailing spaces, leftover Jinja, or missing final newline."""
    for file in text_files(rendered(spec)):
        text = file.read_text()
        name = file.relative_to(rendered(spec))
        assert text.endswith("\n") and not text.endswith("\n\n"), f"{name}: end of file"
        blank_run = "\n\n\n\n" if file.suffix == ".py" else "\n\n\n"  # PEP 8 keeps two between definitions
        assert blank_run not in text, f"{name}: too many blank lines in a row"
        assert not [n for n, line in enumerate(text.splitlines(), 1) if line != line.rstrip()], (
            f"{name}: trailing space"
        )
        assert "{{" not in text and "{%" not in text, f"{name}: Jinja left in"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_execute_sh_is_shellcheck_clean(spec):
    script = rendered(spec) / "deploy/execute.sh"
    assert script.stat().st_mode & 0o111, "execute.sh is executable"
    result = run(BIN / "shellcheck", "--severity=style", script)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_dockerfile_is_hadolint_clean(spec):
    result = run(BIN / "hadolint", "--failure-threshold", "warning", rendered(spec) / "Dockerfile")
    assert result.returncode == 0, result.stdout
    assert result.stdout == "", "not even info-level findings"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_gitlab_ci_matches_gitlabs_schema(spec):
    result = run(
        BIN / "check-jsonschema",
        "--builtin-schema",
        "vendor.gitlab-ci",
        "--data-transform",
        "gitlab-ci",
        rendered(spec) / ".gitlab-ci.yml",
    )
    assert result.returncode == 0, result.stdout + result.stderr


class ReferenceLoader(yaml.SafeLoader):
    """GitLab's `!reference [job, key]` read as a plain list."""


ReferenceLoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_pipeline_structure(spec):
    model = validate_file(spec)
    pipeline = yaml.load((rendered(spec) / ".gitlab-ci.yml").read_text(), Loader=ReferenceLoader)
    assert pipeline["stages"] == ["build", "push-ecr", "deploy", "destroy"]
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "stage" in job}
    names = [env.name for env in model.environments]
    # Built and pushed once, for the first environment; each later one promotes the image before it.
    expected = {"check", f"push-ecr:{names[0]}"} | {f"promote:{n}" for n in names[1:]}
    expected |= {f"deploy:{n}" for n in names}
    if model.destroy == "manual":
        expected |= {f"destroy:{n}" for n in names}
    expected |= {f"approve:{env.name}" for env in model.environments if env.approval_timeout_minutes}
    if model.build:
        expected |= {"build"}
    assert set(jobs) == expected
    for index, env in enumerate(model.environments):
        deploy = jobs[f"deploy:{env.name}"]
        assert deploy["environment"]["name"] == env.name
        assert deploy["resource_group"] == env.name
        assert deploy["script"] == [f"./deploy/execute.sh deploy {env.name}"]
        needs = [f"promote:{env.name}", f"deploy:{names[index - 1]}"] if index else [f"push-ecr:{env.name}"]
        assert deploy["needs"] == needs, "later environments wait for earlier ones"
        # Longer than the longest wait for CodeDeploy, which execute.sh keeps 5 minutes short of it.
        assert deploy["timeout"] == f"{model.deploy_job_timeout_minutes} minutes"
        assert model.deploy_job_timeout_minutes > model.deploy_timeout_minutes + 5
        if index:
            promote = jobs[f"promote:{env.name}"]
            assert promote["needs"] == [f"deploy:{names[index - 1]}"], (
                "promotes what the previous one deployed"
            )
            assert promote["script"] == [f"./deploy/execute.sh promote {env.name}"]
            assert promote["stage"] == "deploy" and promote["resource_group"] == env.name
        manual = [rule for rule in deploy.get("rules", []) if rule.get("when") == "manual"]
        assert bool(manual) == (len(names) > 1 and index == len(names) - 1), "promotion to the last is manual"
        if model.destroy == "manual":
            destroy = jobs[f"destroy:{env.name}"]
            assert destroy["rules"][0]["when"] == "manual"
            assert destroy["variables"]["CONFIRM_DESTROY"] == env.name
            assert destroy["environment"]["action"] == "stop"
    assert jobs[f"push-ecr:{names[0]}"]["script"] == [f"./deploy/execute.sh dockerize {names[0]}"]
    # One Terraform release for the tests and the pipeline.
    assert pipeline["variables"]["TERRAFORM_VERSION"] == model.terraform_version
    # These renders record no template URL: the job says so and exits 3 (tests/test_check_job.py).
    assert jobs["check"]["script"][-1] == "exit 3"
    assert jobs["check"]["allow_failure"] == {"exit_codes": [3]}, "a newer template alone does not fail"
    aws = pipeline[".aws"]
    assert aws["rules"] == [{"if": f'$CI_COMMIT_BRANCH == "{model.deploy_branch}"'}], (
        "deploys from one branch only"
    )
    if model.aws_auth == "oidc":
        assert "GITLAB_OIDC_TOKEN" in aws["id_tokens"]
    else:
        assert "id_tokens" not in aws
    for job in pipeline.values():
        variables = job.get("variables", {}) if isinstance(job, dict) else {}
        secret = [name for name in variables if any(w in name for w in ("SECRET", "PASSWORD", "ACCESS_KEY"))]
        assert not secret, f"no credentials in the file: {secret}"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_an_environment_that_waits_for_approval_has_an_approve_job(spec):
    model = validate_file(spec)
    pipeline = yaml.load((rendered(spec) / ".gitlab-ci.yml").read_text(), Loader=ReferenceLoader)
    for env in model.environments:
        approve = pipeline.get(f"approve:{env.name}")
        assert (approve is not None) == bool(env.approval_timeout_minutes)
        if approve is None:
            continue
        assert approve["script"] == [f"./deploy/execute.sh approve {env.name}"]
        assert approve["rules"][0]["when"] == "manual" and approve["allow_failure"] is True
        # Runnable while deploy:ENV waits: not in its resource group, not after it.
        assert "resource_group" not in approve and f"deploy:{env.name}" not in approve["needs"]
        assert approve["environment"] == {"name": env.name, "action": "access"}


def test_dockerfile_per_runtime():
    images = {spec_id(spec): (rendered(spec) / "Dockerfile").read_text() for spec in SPECS}
    assert "FROM gradle:" in images["hello-world"] and "USER 10001" in images["hello-world"]
    assert "FROM node:" in images["full"] and "npm ci --omit=dev" in images["full"]
    assert "FROM python:" in images["minimal"] and (rendered(SPECS[2]) / "app/__main__.py").is_file()
    assert "FROM golang:" in images["plain-http"]
    for name, text in images.items():
        assert " AS build" in text or name == "apex-canary", "multi-stage builds"
        for line in text.splitlines():
            if line.startswith("FROM "):
                assert ":" in line.split()[1] and ":latest" not in line, f"{name}: base image pinned by tag"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_readme_explains_the_repository(spec):
    from bluegreen.iam import deployer_policies

    model = validate_file(spec)
    readme = (rendered(spec) / "README.md").read_text()
    for heading in (
        "## Environments",
        "## Topology",
        "## Deploy",
        "## Roll back",
        "## Destroy",
        "## Set up an account",
        "## The deploy role",
    ):
        assert heading in readme
    mermaid = readme.split("```mermaid\n", 1)[1].split("```", 1)[0]
    for node in (
        "Production listener",
        "Test listener",
        "Target group blue",
        "Target group green",
        "CodeDeploy",
    ):
        assert node in mermaid
    assert ("Route53" in mermaid) == bool(model.environments[0].dns)
    policies = [json.loads(block.split("```", 1)[0]) for block in readme.split("```json\n")[1:]]
    expected = [document for env in model.environments for document in deployer_policies(model.name, env)]
    assert [
        p
        for p in policies
        if "Sid" in p["Statement"][0] and p["Statement"][0]["Sid"] != "GitLabPipelinesOfTheDeployBranch"
    ] == expected
    for env in model.environments:
        assert f"| {env.name} | {env.region} |" in readme
    if model.aws_auth == "access_keys":
        assert "`AWS_SECRET_ACCESS_KEY`" in readme
