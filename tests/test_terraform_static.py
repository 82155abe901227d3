"""The generated Terraform, checked with the real terraform binary and the machine's aws provider.

For every test spec and example (and one spec of edge cases written here): render
it with `bluegreen new`, then `terraform fmt -check -recursive` of deploy/terraform,
and `terraform init -backend=false` + `terraform validate` in every environment
root: valid, with no errors and no warnings. Then a few structural promises of the
roots, read from the rendered files and compared with the model.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bluegreen.cli import main
from bluegreen.validate import validate_file
from hcl2.query import DocumentView

from tests.support.hcl import block, body, comments, parse
from tests.support.template_repo import PROJECT_ROOT
from tests.support.terraform_tools import init_offline, require_terraform, run_terraform, validate_json

pytestmark = pytest.mark.terraform

TEMPLATE_TERRAFORM = PROJECT_ROOT / "template" / "deploy" / "terraform"
MODULES = ("alb", "codedeploy", "dns", "ecr", "fargate", "scaling", "target_groups")
ROOT_FILES = ("backend.tf", "main.tf", "outputs.tf", "providers.tf", "variables.tf", "versions.tf")

# Branches no other spec takes: quoted tag keys, several subnet tags, DNS without
# HTTPS, strings HCL would otherwise interpolate, SSM-only secrets, spot, a memory
# policy alone and then none, linear shift with an approval wait, no rollback,
# the p99 alarm alone, explicit test listener CIDRs, access logs, an explicit VPC, state in
# another region than the service's (the bootstrap's second provider) with a pinned account.
EDGE_SPEC = r"""
schema_version: 1
name: edge
tags:
  "cost:center": "42"
  team name: a b
  Plain: x
aws:
  region: ap-southeast-2
  account_id: "123456789012"
network:
  vpc_tag_key: Shared
  private_subnet_tags: {Tier: app, "kubernetes.io/role": inner}
  public_subnet_tags: {Tier: web}
dns:
  zone: example.net
  record: edge
  https: false
app:
  runtime: python
  port: 8080
  health_check_path: /status/deep
  environment:
    GREETING: 'say "hi" to ${USER} and %{x} \ done'
    EMPTY: ""
  secrets:
    ONLY_SSM: arn:aws:ssm:ap-southeast-2:123456789012:parameter/edge/token
compute: {cpu: 512, memory: 1024, spot: true}
scaling: {min: 1, max: 3, cpu_target: null, memory_target: 70, requests_per_target: null}
deployment:
  strategy: linear
  linear: {percent: 50, minutes: 3}
  test_listener_port: 9000
  test_listener_cidrs: [10.1.0.0/16, 192.168.0.0/24]
  approval_timeout_minutes: 60
  auto_rollback: {on_failure: false, on_alarms: false}
  alarms: {http_5xx_percent: null, p99_latency_ms: 250}
alb: {deletion_protection: false, idle_timeout_seconds: 30, access_logs_bucket: my-alb-logs}
logs: {retention_days: 7}
state: {bucket: edge-terraform-state, region: us-east-1}
environments:
  qa:
    dns: {record: edge-qa}
    network: {vpc_id: vpc-0123456789abcdef0}
    scaling: {min: 1, max: 1, memory_target: null}
  production: {}
"""

SPECS = {
    **{path.stem: path for path in sorted((PROJECT_ROOT / "tests" / "specs").glob("*.yaml"))},
    **{path.parent.name: path for path in sorted((PROJECT_ROOT / "examples").glob("*/service.yaml"))},
    "edge-cases": None,  # EDGE_SPEC, written at run time
}


@dataclass
class Rendered:
    spec: Path
    repo: Path
    model: dict[str, Any]
    fmt: Any = None
    validation: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def terraform_dir(self) -> Path:
        return self.repo / "deploy" / "terraform"

    def root(self, env_name: str) -> Path:
        return self.terraform_dir / "environments" / env_name

    def text(self, env_name: str, name: str) -> str:
        return (self.root(env_name) / name).read_text()


def _check(spec: Path, workdir: Path) -> Rendered:
    """Render, fmt-check, and init + validate every root (two at a time)."""
    require_terraform()
    repo = workdir / "repo"
    assert main(["new", str(spec), str(repo)]) == 0, f"bluegreen new {spec} failed"
    rendered = Rendered(spec, repo, validate_file(spec).as_context())
    rendered.fmt = run_terraform(
        rendered.terraform_dir, "fmt", "-check", "-recursive", "-diff", "-no-color", check=False
    )

    def init_and_validate(env_name: str) -> tuple[str, dict[str, Any]]:
        root = rendered.root(env_name)
        init_offline(root)
        return env_name, validate_json(root)

    names = [env["name"] for env in rendered.model["environments"]]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        rendered.validation = dict(pool.map(init_and_validate, names))
    return rendered


@pytest.fixture(scope="module")
def rendered_specs(tmp_path_factory):
    cache: dict[str, Rendered] = {}

    def get(spec_id: str) -> Rendered:
        if spec_id not in cache:
            workdir = tmp_path_factory.mktemp(spec_id)
            spec = SPECS[spec_id]
            if spec is None:
                spec = workdir / "service.yaml"
                spec.write_text(EDGE_SPEC.lstrip())
            cache[spec_id] = _check(spec, workdir)
        return cache[spec_id]

    return get


spec_ids = pytest.mark.parametrize("spec_id", list(SPECS))


@spec_ids
def test_fmt_check_is_clean(rendered_specs, spec_id):
    fmt = rendered_specs(spec_id).fmt
    assert fmt.returncode == 0, f"terraform fmt -check found differences:\n{fmt.stdout}{fmt.stderr}"


@spec_ids
def test_every_environment_root_validates_without_errors_or_warnings(rendered_specs, spec_id):
    rendered = rendered_specs(spec_id)
    assert sorted(p.name for p in (rendered.terraform_dir / "environments").iterdir()) == sorted(
        env["name"] for env in rendered.model["environments"]
    )
    for env_name, result in rendered.validation.items():
        problems = "\n".join(
            f"{d['severity']}: {d['summary']}: {d.get('detail', '')} "
            f"({d.get('range', {}).get('filename')}:{d.get('range', {}).get('start', {}).get('line')})"
            for d in result["diagnostics"]
        )
        assert result["valid"], f"{env_name}: invalid:\n{problems}"
        assert (result["error_count"], result["warning_count"]) == (0, 0), f"{env_name}:\n{problems}"
        assert result["diagnostics"] == []


@spec_ids
def test_rendered_files_look_hand_written(rendered_specs, spec_id):
    # Layout, not content: what a reader of the text sees, so read as text.
    rendered = rendered_specs(spec_id)
    for path in sorted(rendered.terraform_dir.rglob("*.tf")):
        text = path.read_text()
        where = path.relative_to(rendered.repo)
        assert text.endswith("\n") and not text.endswith("\n\n"), f"{where}: ends without exactly one newline"
        assert not text.startswith("\n"), f"{where}: starts with a blank line"
        assert "\n\n\n" not in text, f"{where}: two blank lines in a row"
        assert all(line == line.rstrip() for line in text.splitlines()), f"{where}: trailing whitespace"
        assert "{{" not in text and "{%" not in text, f"{where}: Jinja left in the output"
    for env in rendered.model["environments"]:
        assert sorted(
            p.name for p in rendered.root(env["name"]).iterdir() if p.is_file() and p.suffix == ".tf"
        ) == (sorted(ROOT_FILES))


@spec_ids
def test_roots_follow_the_model(rendered_specs, spec_id):
    rendered = rendered_specs(spec_id)
    for env in rendered.model["environments"]:
        files = {name: parse(rendered.root(env["name"]) / name) for name in ROOT_FILES}
        _check_versions_provider_backend(env, files)
        _check_network(env, files["main.tf"])
        _check_load_balancer_and_dns(env, files["main.tf"])
        _check_fargate(env, files["main.tf"])
        _check_codedeploy(env, files["main.tf"])
        _check_scaling(env, files["main.tf"])


def _check_versions_provider_backend(env: dict[str, Any], files: dict[str, DocumentView]) -> None:
    # Only hashicorp/aws, within the supported range; modules are local.
    versions = block(files["versions.tf"], "terraform")
    assert versions["required_version"] == ">= 1.10", "use_lockfile of the S3 backend needs 1.10"
    assert versions["required_providers"] == [
        {"aws": {"source": "hashicorp/aws", "version": ">= 5.0, < 7.0"}}
    ]
    sources = [body(module)["source"] for module in files["main.tf"].blocks("module")]
    expected = [f"../../modules/{m}" for m in MODULES if m != "dns" or env["dns"]]
    assert sorted(sources) == sorted(expected), sources

    # Provider: region, account pin only when set, default tags.
    provider = block(files["providers.tf"], "provider", "aws")
    assert provider["region"] == env["region"]
    assert provider.get("allowed_account_ids") == ([env["account_id"]] if env["account_id"] else None)
    assert provider["default_tags"] == [{"tags": env["provider_default_tags"]}]

    # Backend: S3 with a lock file in the bucket when state is set (the DynamoDB table is
    # deprecated since Terraform 1.11), local otherwise.
    (backend,) = block(files["backend.tf"], "terraform")["backend"]
    if env["state"]:
        assert list(backend) == ["s3"]
        assert backend["s3"]["key"] == env["state"]["key"]
        assert backend["s3"]["use_lockfile"] is True
        assert "dynamodb_table" not in backend["s3"]
    else:
        assert list(backend) == ["local"]


def _check_network(env: dict[str, Any], main_tf: DocumentView) -> None:
    """The VPC by id or by tag key, the subnets by VPC and their tags: exactly as the model says."""
    vpc = block(main_tf, "data", "aws_vpc", "this")
    if env["vpc_id"]:
        assert vpc == {"id": env["vpc_id"]}
    else:
        assert vpc == {"filter": [{"name": "tag-key", "values": [env["vpc_tag_key"]]}]}
    for kind in ("private", "public"):
        filters = block(main_tf, "data", "aws_subnets", kind)["filter"]
        assert {"name": "vpc-id", "values": ["${data.aws_vpc.this.id}"]} in filters
        tags = [
            (f["name"].removeprefix("tag:"), f["values"]) for f in filters if f["name"].startswith("tag:")
        ]
        assert tags == [(key, [value]) for key, value in env[f"{kind}_subnet_tags"].items()]


def _check_load_balancer_and_dns(env: dict[str, Any], main_tf: DocumentView) -> None:
    """HTTPS listener and certificate iff https; the DNS module iff dns; the test listener."""
    alb = block(main_tf, "module", "alb")
    assert alb["https"] is env["https"]
    assert (alb.get("certificate_arn") == "${module.dns.certificate_arn}") == env["https"]
    assert bool(main_tf.blocks("module", "dns")) == bool(env["dns"])
    if env["dns"]:
        dns = block(main_tf, "module", "dns")
        assert dns["fqdn"] == env["dns"]["fqdn"]
        assert dns["create_certificate"] is env["https"]
    expected_cidrs = env["test_listener_cidrs"] or ["${data.aws_vpc.this.cidr_block}"]
    assert alb["test_listener_cidrs"] == expected_cidrs
    assert alb["test_listener_port"] == env["test_listener_port"]
    assert alb["deletion_protection"] is env["alb_deletion_protection"]


def _check_fargate(env: dict[str, Any], main_tf: DocumentView) -> None:
    """Spot, sizes, command, health check, secrets and environment as given."""
    fargate = block(main_tf, "module", "fargate", comments=True)
    assert fargate["spot"] is env["spot"]
    assert fargate["cpu_architecture"] == env["cpu_architecture"]
    assert fargate["cpu"] == env["cpu"]
    assert fargate["memory"] == env["memory"]
    # No task before the first image (the root's image variable is null): nothing starts to fail.
    assert fargate["desired_count"] == f"${{var.image == null ? 0 : {env['min_tasks']}}}"
    assert comments(fargate), "a comment says why desired_count waits for an image"
    assert fargate.get("secrets", {}) == env["secrets"]
    assert ("environment" in fargate) == bool(env["environment"])
    assert fargate.get("command") == (env["command"] or None)
    health = env["container_health_check"]
    assert fargate.get("container_health_check") == ({"command": health} if health else None)


def _check_codedeploy(env: dict[str, Any], main_tf: DocumentView) -> None:
    """A custom deployment config iff canary/linear, with the spec's step; alarms and approval."""
    codedeploy = block(main_tf, "module", "codedeploy")
    assert codedeploy["deployment_config_name"] == env["deployment_config_name"]
    shift = env["traffic_shift"]
    assert codedeploy.get("traffic_shift") == shift
    if not shift:
        assert env["deployment_config_name"] == "CodeDeployDefault.ECSAllAtOnce"
    for attribute in ("alarm_http_5xx_percent", "alarm_p99_latency_ms", "approval_timeout_minutes"):
        assert codedeploy[attribute] == env[attribute], attribute
    assert codedeploy["rollback_events"] == env["rollback_events"]


def _check_scaling(env: dict[str, Any], main_tf: DocumentView) -> None:
    """One target-tracking policy per entry of the model, in order; the task range."""
    scaling = block(main_tf, "module", "scaling")
    assert scaling.get("policies", []) == env["scaling_policies"]
    assert scaling["min_capacity"] == env["min_tasks"]
    assert scaling["max_capacity"] == env["max_tasks"]


def test_modules_are_plain_terraform_on_hashicorp_aws_only():
    """Modules are copied verbatim (no Jinja), use only hashicorp/aws, and have the four files."""
    assert sorted(p.name for p in (TEMPLATE_TERRAFORM / "modules").iterdir()) == sorted(MODULES)
    for module in MODULES:
        folder = TEMPLATE_TERRAFORM / "modules" / module
        assert sorted(p.name for p in folder.iterdir()) == [
            "main.tf",
            "outputs.tf",
            "variables.tf",
            "versions.tf",
        ]
        for path in folder.iterdir():
            # Text: Jinja left in a file is template source, which may well parse as HCL.
            text = path.read_text()
            assert "{{" not in text and "{%" not in text, f"{path}: Jinja in a module"
            parsed = parse(path)
            assert not parsed.blocks("module"), f"{path}: modules call no modules"
            kinds = {view.labels[1] for view in [*parsed.blocks("resource"), *parsed.blocks("data")]}
            assert all(kind.startswith("aws_") for kind in kinds), f"{path}: {kinds}"
            for terraform in parsed.blocks("terraform"):
                for providers in body(terraform).get("required_providers", []):
                    sources = {name: provider["source"] for name, provider in providers.items()}
                    assert sources == {"aws": "hashicorp/aws"}, f"{path}: {sources}"
        for variable in parse(folder / "variables.tf").blocks("variable"):
            assert list(body(variable))[:2] == ["description", "type"], (
                f"{module}: variable {variable.labels[1]} starts with its description and its type"
            )


def test_codedeploy_owned_attributes_are_ignored():
    """A second plan after a deployment is empty: Terraform leaves CodeDeploy's changes alone."""
    fargate = parse(TEMPLATE_TERRAFORM / "modules" / "fargate" / "main.tf")
    service = block(fargate, "resource", "aws_ecs_service", "this")
    (lifecycle,) = service["lifecycle"]
    # What only a deployment may change on a CODE_DEPLOY service travels in the AppSpec.
    assert set(lifecycle.get("ignore_changes", [])) == {
        "task_definition",
        "load_balancer",
        "desired_count",
        "network_configuration",
        "capacity_provider_strategy",
        "platform_version",
    }, "the service ignores what CodeDeploy and autoscaling own"
    assert service.get("deployment_controller") == [{"type": "CODE_DEPLOY"}]
    alb = parse(TEMPLATE_TERRAFORM / "modules" / "alb" / "main.tf")
    for listener in ("prod", "test"):
        (lifecycle,) = block(alb, "resource", "aws_lb_listener", listener)["lifecycle"]
        assert lifecycle["ignore_changes"] == ["default_action"], listener
    variables = parse(TEMPLATE_TERRAFORM / "modules" / "alb" / "variables.tf")
    assert block(variables, "variable", "ssl_policy")["default"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
