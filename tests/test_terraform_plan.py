"""`terraform plan` of every environment of every spec, against the local AWS emulator.

For each test spec and example and each of its environments: render it, seed the
emulator with what the environment looks up (tagged VPC and subnets, or the VPC
named by id; the hosted zone; an IAM identity in the spec's account), plan with
the real terraform binary and provider, and read the plan JSON (`terraform show
-json`). Expectations come from the validated model, never from hard-coded specs.
Where a planned value is only known after apply (listener ARNs), the test follows
the expression's references through the module graph of the plan's configuration
to the resource it names.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from bluegreen.demo import MARKER, run_demo
from bluegreen.emulator import sandbox
from bluegreen.model import ALL_AT_ONCE_CONFIG, Environment
from bluegreen.validate import validate_file

from tests.support.hcl import body, parse
from tests.support.rendering import SPECS, spec_id

pytestmark = pytest.mark.terraform

CASES = [
    pytest.param(spec, env.name, id=f"{spec_id(spec)}-{env.name}")
    for spec in SPECS
    for env in validate_file(spec).environments
]
_plans: dict[tuple[str, str], Plan] = {}


def model_environment(spec: Path, env_name: str) -> Environment:
    return next(env for env in validate_file(spec).environments if env.name == env_name)


class Plan:
    """A plan JSON with the lookups the tests need."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.changes = [c for c in data.get("resource_changes", []) if c["mode"] == "managed"]

    def of_type(self, resource_type: str) -> list[Mapping[str, Any]]:
        return [c for c in self.changes if c["type"] == resource_type]

    @staticmethod
    def after(change: Mapping[str, Any]) -> Mapping[str, Any]:
        return change["change"]["after"] or {}

    @staticmethod
    def base_address(change: Mapping[str, Any]) -> str:
        """The address without instance keys: module.alb.aws_lb_listener.http_redirect."""
        module = re.sub(r"\[[^\]]*\]", "", change.get("module_address", ""))
        return ".".join(p for p in (module, change["type"], change["name"]) if p)

    def module_config(self, path: Sequence[str]) -> Mapping[str, Any]:
        config = self.data["configuration"]["root_module"]
        for name in path:
            config = config["module_calls"][name]["module"]
        return config

    def expression(self, change: Mapping[str, Any], *attribute_path: str | int) -> Mapping[str, Any]:
        """The configuration expression of an attribute of a planned resource."""
        path = _module_path(change.get("module_address", ""))
        address = f"{change['type']}.{change['name']}"
        resource = next(r for r in self.module_config(path)["resources"] if r["address"] == address)
        node: Any = resource["expressions"]
        for step in attribute_path:
            node = node[step]
        return node

    def reached(self, change: Mapping[str, Any], *attribute_path: str | int) -> set[str]:
        """Resource addresses an attribute's expression refers to, across module boundaries."""
        path = _module_path(change.get("module_address", ""))
        references = self.expression(change, *attribute_path).get("references", [])
        return set().union(*(self._resolve(path, ref) for ref in references))

    def _resolve(self, path: tuple[str, ...], reference: str) -> set[str]:
        parts = re.sub(r"\[[^\]]*\]", "", reference).split(".")
        if parts[0] == "var":
            if not path:
                return {reference}
            call = self.module_config(path[:-1])["module_calls"][path[-1]]
            argument = call.get("expressions", {}).get(parts[1], {})
            return set().union(*(self._resolve(path[:-1], r) for r in argument.get("references", [])))
        if parts[0] == "module":
            if len(parts) < 3:
                return set()  # the bare module call; the longer reference beside it says what
            child = (*path, parts[1])
            output = self.module_config(child)["outputs"][parts[2]]
            references = output["expression"].get("references", [])
            return set().union(*(self._resolve(child, r) for r in references))
        if parts[0] in {"local", "each", "count", "path", "terraform", "self"}:
            return {reference}  # not followed: the configuration JSON does not carry locals
        address = ".".join(parts[:3] if parts[0] == "data" else parts[:2])
        return {".".join([*(f"module.{m}" for m in path), address])}


def _module_path(module_address: str) -> tuple[str, ...]:
    return tuple(re.findall(r"module\.([^.\[]+)", module_address))


@pytest.fixture
def plan_for(emulator: sandbox.Emulator, working_copy):
    """The plan of one environment of one spec; planned once per session, on a freshly seeded emulator."""

    def get(spec: Path, env_name: str) -> Plan:
        key = (str(spec), env_name)
        if key not in _plans:
            repo = working_copy(spec)
            env = model_environment(spec, env_name)
            sandbox.seed_environment(emulator.endpoint, env)
            _plans[key] = Plan(sandbox.plan_environment(repo, env, emulator.endpoint))
        return _plans[key]

    return get


def one(changes: Sequence[Mapping[str, Any]], what: str) -> Mapping[str, Any]:
    assert len(changes) == 1, f"expected one {what}, planned {[c['address'] for c in changes]}"
    return changes[0]


@pytest.mark.parametrize(("spec", "env_name"), CASES)
def test_plan_creates_the_stack_from_scratch(plan_for, spec, env_name):
    plan = plan_for(spec, env_name)
    assert plan.data["errored"] is False
    assert plan.changes, "the plan creates nothing"
    not_created = [c["address"] for c in plan.changes if c["change"]["actions"] != ["create"]]
    assert not_created == []


@pytest.mark.parametrize(("spec", "env_name"), CASES)
def test_ecs_service_is_on_the_codedeploy_controller(plan_for, spec, env_name):
    env = model_environment(spec, env_name)
    service = Plan.after(one(plan_for(spec, env_name).of_type("aws_ecs_service"), "ECS service"))
    assert service["name"] == env.names["service"]
    assert [c["type"] for c in service["deployment_controller"]] == ["CODE_DEPLOY"]
    assert service["network_configuration"][0]["assign_public_ip"] is False


@pytest.mark.parametrize(("spec", "env_name"), CASES)
def test_deployment_group_is_blue_green_over_both_listeners_and_target_groups(plan_for, spec, env_name):
    env = model_environment(spec, env_name)
    plan = plan_for(spec, env_name)
    group_change = one(plan.of_type("aws_codedeploy_deployment_group"), "deployment group")
    group = Plan.after(group_change)
    assert group["deployment_style"] == [
        {"deployment_option": "WITH_TRAFFIC_CONTROL", "deployment_type": "BLUE_GREEN"}
    ]
    assert [s["service_name"] for s in group["ecs_service"]] == [env.names["service"]]
    pair = ("load_balancer_info", 0, "target_group_pair_info", 0)
    assert [
        t["name"] for t in group["load_balancer_info"][0]["target_group_pair_info"][0]["target_group"]
    ] == [
        env.names["target_group_blue"],
        env.names["target_group_green"],
    ]

    # The listener ARNs are known only after apply: follow the references to the listeners.
    listeners = {Plan.base_address(c): Plan.after(c) for c in plan.of_type("aws_lb_listener")}
    routes = {}
    for route in ("prod_traffic_route", "test_traffic_route"):
        reached = plan.reached(group_change, *pair, route, 0, "listener_arns")
        assert len(reached) == 1 and reached <= listeners.keys(), f"{route} names {reached}, not one listener"
        routes[route] = listeners[reached.pop()]
    prod_port, prod_protocol = (443, "HTTPS") if env.https else (80, "HTTP")
    assert (routes["prod_traffic_route"]["port"], routes["prod_traffic_route"]["protocol"]) == (
        prod_port,
        prod_protocol,
    )
    assert routes["test_traffic_route"]["port"] == env.test_listener_port
    assert routes["prod_traffic_route"] is not routes["test_traffic_route"]


@pytest.mark.parametrize(("spec", "env_name"), CASES)
def test_exactly_two_target_groups_blue_and_green(plan_for, spec, env_name):
    env = model_environment(spec, env_name)
    groups = [Plan.after(c) for c in plan_for(spec, env_name).of_type("aws_lb_target_group")]
    assert sorted(g["name"] for g in groups) == sorted(
        [env.names["target_group_blue"], env.names["target_group_green"]]
    )
    for group in groups:
        assert (group["target_type"], group["port"]) == ("ip", env.port)
        assert group["health_check"][0]["path"] == env.health_check_path
        assert group["deregistration_delay"] == str(env.deregistration_delay_seconds)


@pytest.mark.parametrize(("spec", "env_name"), CASES)
def test_deployment_config_follows_the_strategy(plan_for, spec, env_name):
    env = model_environment(spec, env_name)
    plan = plan_for(spec, env_name)
    configs = plan.of_type("aws_codedeploy_deployment_config")
    group_change = one(plan.of_type("aws_codedeploy_deployment_group"), "deployment group")
    group = Plan.after(group_change)
    if env.strategy == "all_at_once":
        assert configs == []
        assert group["deployment_config_name"] == ALL_AT_ONCE_CONFIG
        return
    config_change = one(configs, "custom deployment config")
    config = Plan.after(config_change)
    assert config["deployment_config_name"] == env.deployment_config_name
    assert config["compute_platform"] == "ECS"
    routing = config["traffic_routing_config"][0]
    block = "time_based_canary" if env.strategy == "canary" else "time_based_linear"
    assert routing["type"] == env.traffic_shift.type
    assert routing[block] == [
        {"percentage": env.traffic_shift.percent, "interval": env.traffic_shift.minutes}
    ]
    other = {"time_based_canary", "time_based_linear"} - {block}
    assert all(routing[key] == [] for key in other)
    # The group uses that config: by name when known at plan time, else by reference.
    assert group.get("deployment_config_name") == env.deployment_config_name or plan.reached(
        group_change, "deployment_config_name"
    ) == {Plan.base_address(config_change)}


@pytest.mark.parametrize(("spec", "env_name"), CASES)
def test_https_listener_and_certificate_exactly_when_dns_https(plan_for, spec, env_name):
    env = model_environment(spec, env_name)
    plan = plan_for(spec, env_name)
    listeners = [Plan.after(c) for c in plan.of_type("aws_lb_listener")]
    certificates = [Plan.after(c) for c in plan.of_type("aws_acm_certificate")]
    https = [listener for listener in listeners if listener["protocol"] == "HTTPS"]
    if not env.https:
        assert https == [] and certificates == [] and plan.of_type("aws_acm_certificate_validation") == []
        return
    assert [listener["port"] for listener in https if listener["port"] == 443] == [443]
    assert all(listener["ssl_policy"] for listener in https)
    (certificate,) = certificates
    assert (certificate["domain_name"], certificate["validation_method"]) == (env.dns.fqdn, "DNS")
    assert len(plan.of_type("aws_acm_certificate_validation")) == 1
    (plain,) = [listener for listener in listeners if listener["port"] == 80]
    redirect = plain["default_action"][0]
    assert redirect["type"] == "redirect"
    assert (redirect["redirect"][0]["protocol"], redirect["redirect"][0]["port"]) == ("HTTPS", "443")


@pytest.mark.parametrize(("spec", "env_name"), CASES)
def test_one_scaling_policy_per_policy_of_the_spec(plan_for, spec, env_name):
    env = model_environment(spec, env_name)
    plan = plan_for(spec, env_name)
    target = Plan.after(one(plan.of_type("aws_appautoscaling_target"), "scalable target"))
    assert (target["min_capacity"], target["max_capacity"]) == (env.min_tasks, env.max_tasks)
    assert target["scalable_dimension"] == "ecs:service:DesiredCount"
    planned = set()
    for change in plan.of_type("aws_appautoscaling_policy"):
        policy = Plan.after(change)
        tracking = policy["target_tracking_scaling_policy_configuration"][0]
        planned.add((policy["name"], _tracked_metric(tracking), tracking["target_value"]))
        assert (tracking["scale_in_cooldown"], tracking["scale_out_cooldown"]) == (
            env.scale_in_cooldown,
            env.scale_out_cooldown,
        )
    assert len(plan.of_type("aws_appautoscaling_policy")) == len(env.scaling_policies)
    assert planned == {(p.name, p.metric, float(p.target)) for p in env.scaling_policies}


def _tracked_metric(tracking: Mapping[str, Any]) -> str:
    """The predefined metric type a policy tracks, or ALBRequestCountPerTarget for the custom
    metric that counts the requests of both target groups (blue and green) per task."""
    if tracking["predefined_metric_specification"]:
        return tracking["predefined_metric_specification"][0]["predefined_metric_type"]
    (custom,) = tracking["customized_metric_specification"]
    request_counts = [
        stat["metric"][0]
        for query in custom["metrics"]
        for stat in query["metric_stat"]
        if stat["metric"][0]["metric_name"] == "RequestCount"
    ]
    namespaces = {metric["namespace"] for metric in request_counts}
    assert len(request_counts) == 2 and namespaces == {"AWS/ApplicationELB"}, custom
    return "ALBRequestCountPerTarget"


def test_allowed_account_ids_is_checked_against_the_emulator(emulator, working_copy):
    """The override keeps the provider's account check live: keys of another account are refused."""
    spec = next(s for s in SPECS if any(e.account_id for e in validate_file(s).environments))
    env = next(e for e in validate_file(spec).environments if e.account_id)
    repo = working_copy(spec)
    sandbox.seed_environment(emulator.endpoint, env)
    other = "999999999999"
    root = sandbox.environment_root(repo, env.name)
    sandbox.write_provider_override(
        root,
        emulator.endpoint,
        env.region,
        credentials=sandbox.credentials_for_account(emulator.endpoint, other),
    )
    sandbox.terraform(root, "init")
    with pytest.raises(sandbox.TerraformError, match=rf"not allowed.*{other}|{other}.*not allowed"):
        sandbox.terraform(root, "plan", "-input=false", "-lock=false")


def test_the_override_follows_the_roots_own_aws_providers_and_backend(tmp_path):
    """Each `provider "aws"` of the root's own files gets its override, commented-out blocks and
    override files aside; an S3 backend is replaced by a local one; a file that is not HCL is refused."""
    (tmp_path / "providers.tf").write_text(
        '/* provider "aws" { alias = "commented" } */\n'
        'provider "aws" {\n  region = "eu-west-1"\n  default_tags {\n    tags = { A = "b" }\n  }\n}\n'
        '# provider "aws" {\n'
        'provider "aws" {\n  alias  = "us_east_1"\n  region = "us-east-1"\n}\n'
        'provider "random" {}\n'
    )
    (tmp_path / "backend.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    (tmp_path / "team_override.tf").write_text('provider "aws" {\n  alias = "overridden"\n}\n')
    override = parse(sandbox.write_provider_override(tmp_path, "http://127.0.0.1:1", "eu-west-1"))
    assert [body(provider).get("alias") for provider in override.blocks("provider", "aws")] == [
        None,
        "us_east_1",
    ]
    assert [
        backend.labels for settings in override.blocks("terraform") for backend in settings.blocks("backend")
    ] == [["backend", "local"]]
    (tmp_path / "broken.tf").write_text('resource "x" {\n')
    with pytest.raises(sandbox.SandboxError, match=r"broken\.tf: not valid HCL"):
        sandbox.write_provider_override(tmp_path, "http://127.0.0.1:1", "eu-west-1")


def _child_moto_pids() -> set[int]:
    """moto servers this test process started and has not reaped."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"moto" in cmdline:
            pids.add(int(stat.parent.name))
    return pids


def test_demo_plans_the_example_and_leaves_nothing_running(terraform_toolchain, tmp_path):
    example = next(s for s in SPECS if s.name == "service.yaml")
    before = _child_moto_pids()
    folder = tmp_path / "demo"
    folder.mkdir()  # an empty folder is free to use
    out = io.StringIO()
    assert run_demo(example, folder, out=out) == 0, out.getvalue()
    assert (folder / MARKER).is_file()
    # Twice in a row, as `make demo` twice does: the demo renders its own folder again.
    (folder / "left-over.tf").write_text("# from an older render\n")
    out = io.StringIO()
    assert run_demo(example, folder, out=out) == 0, out.getvalue()
    assert not (folder / "left-over.tf").exists()
    assert (folder / MARKER).is_file()
    text = out.getvalue()
    for env in validate_file(example).environments:
        added = re.search(
            rf"^environment {env.name}: Plan: (\d+) to add, 0 to change, 0 to destroy", text, re.M
        )
        assert added and int(added.group(1)) > 0, text
    assert re.search(r"^\s+1\s+aws_codedeploy_deployment_group$", text, re.M), text
    assert _child_moto_pids() <= before


def test_emulator_stops_when_the_block_fails():
    with pytest.raises(RuntimeError, match="boom"), sandbox.Emulator() as running:
        process = running.process
        raise RuntimeError("boom")
    assert process is not None and process.poll() is not None
    assert running.process is None


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_terraform_init_of_every_root_prints_no_deprecation(spec, emulator, working_copy, tmp_path):
    """Each root initialises with its own backend, the S3 one against the emulator's S3: no
    deprecated argument (Terraform 1.11 deprecates the S3 backend's dynamodb_table)."""
    repo = working_copy(spec)
    for env in validate_file(spec).environments:
        root = sandbox.environment_root(repo, env.name)
        args = ["init"]
        if env.state:
            credentials = sandbox.credentials_for_account(emulator.endpoint, None)
            s3 = sandbox.client("s3", emulator.endpoint, env.state.region, credentials)
            if env.state.bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                location = (
                    {"LocationConstraint": env.state.region} if env.state.region != "us-east-1" else None
                )
                s3.create_bucket(
                    Bucket=env.state.bucket, **({"CreateBucketConfiguration": location} if location else {})
                )
            # Where the emulator is and how to sign for it; merged into the generated backend block.
            config = tmp_path / f"{env.name}.s3.tfbackend"
            config.write_text(
                f'endpoints                   = {{ s3 = "{emulator.endpoint}" }}\n'
                "use_path_style              = true\n"
                "skip_credentials_validation = true\n"
                "skip_requesting_account_id  = true\n"
                "skip_metadata_api_check     = true\n"
                f'access_key                  = "{credentials.access_key}"\n'
                f'secret_key                  = "{credentials.secret_key}"\n'
            )
            args.append(f"-backend-config={config}")
            # Terraform 1.11.4 prints the backend's configuration warnings (a deprecated
            # argument) only when init's backend step fails; on success it drops them. So
            # once against a bucket that does not exist: the backend step runs and fails.
            missing = sandbox.terraform(
                root, *args, "-backend-config=bucket=bluegreen-no-such-bucket", check=False
            )
            shown = missing.stdout + missing.stderr
            assert missing.returncode != 0 and "Failed to get existing workspaces" in shown, shown
            assert "deprecat" not in shown.lower(), f"{env.name}:\n{shown}"
        result = sandbox.terraform(root, *args, "-reconfigure")
        printed = result.stdout + result.stderr
        assert "deprecat" not in printed.lower(), f"{env.name}:\n{printed}"
        assert "Terraform has been successfully initialized" in printed
