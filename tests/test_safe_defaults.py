"""Safe defaults that cost nothing, checked where checkov cannot see them.

checkov reads a module resource whose value comes from a variable as unknown,
so the alb, ecr and fargate modules are also planned against a mock AWS provider
with `terraform test` (tests/tftest/MODULE.tftest.hcl): HTTPS on 443 with port 80
only redirecting, the test listener closed to the internet, deletion protection,
dropped invalid headers, access logs, immutable scanned encrypted images, log
retention, private tasks. The rendered roots then hand the spec's values to
those variables.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bluegreen.render import render_new
from bluegreen.validate import validate_file

from tests.support.hcl import block, parse
from tests.support.rendering import SPECS, rendered, spec_id
from tests.support.template_repo import PROJECT_ROOT
from tests.support.terraform_tools import init_offline, run_terraform

MODULES = PROJECT_ROOT / "template" / "deploy" / "terraform" / "modules"
MODULE_TESTS = sorted((PROJECT_ROOT / "tests" / "tftest").glob("*.tftest.hcl"))
# Access logs and DNS in production, neither deletion protection nor access logs in staging.
LOGGED_SPEC = """\
schema_version: 1
name: logged
aws: {region: eu-west-1}
dns: {zone: example.com}
app: {runtime: go, port: 8080}
alb: {access_logs_bucket: my-alb-logs}
logs: {retention_days: 400}
environments:
  staging: {alb: {access_logs_bucket: null}}
  production: {}
"""


@pytest.mark.terraform
@pytest.mark.parametrize("test_file", MODULE_TESTS, ids=lambda path: path.name.split(".")[0])
def test_module_plans_with_safe_defaults(test_file: Path, tmp_path: Path):
    module = tmp_path / test_file.name.split(".")[0]
    shutil.copytree(MODULES / module.name, module)
    shutil.copy(test_file, module)
    init_offline(module)
    result = run_terraform(module, "test", "-no-color", check=False)
    assert result.returncode == 0, f"terraform test of {module.name}:\n{result.stdout}{result.stderr}"


def _check_root(repo: Path, spec: Path) -> None:
    """Each root hands its environment's log retention, access logs and DNS to the modules."""
    for env in validate_file(spec).environments:
        main_tf = parse(repo / "deploy" / "terraform" / "environments" / env.name / "main.tf")
        fargate, alb = block(main_tf, "module", "fargate"), block(main_tf, "module", "alb")
        assert fargate["log_retention_days"] == env.log_retention_days, env.name
        assert alb.get("access_logs_bucket") == env.alb_access_logs_bucket, env.name
        if env.alb_access_logs_bucket:
            assert alb["access_logs_prefix"] == env.names["alb"], env.name
        assert alb["https"] is bool(env.dns and env.dns.https), f"{env.name}: HTTPS wherever DNS is"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_roots_pass_the_specs_safety_settings(spec: Path):
    _check_root(rendered(spec), spec)


def test_access_logs_deletion_protection_and_https_follow_the_environment(tmp_path: Path):
    spec = tmp_path / "service.yaml"
    spec.write_text(LOGGED_SPEC)
    repo = render_new(spec, tmp_path / "repo")
    _check_root(repo, spec)
    staging, production = validate_file(spec).environments
    assert production.alb_access_logs_bucket == "my-alb-logs" and staging.alb_access_logs_bucket is None
    assert production.alb_deletion_protection and not staging.alb_deletion_protection
    assert production.https and staging.https and production.log_retention_days == 400
