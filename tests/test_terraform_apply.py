"""`terraform apply` of a whole generated stack against the local AWS emulator.

The richest spec (tests/specs/full.yaml), its staging environment: remote state
(overridden to local), an account of its own (the emulator mints keys in it, so
`allowed_account_ids` is checked), HTTPS with a DNS-validated certificate, spot,
three scaling policies, a canary deployment config, rollback alarms.

1. apply creates everything, in the spec's account;
2. a second plan shows no changes (`-detailed-exitcode` 0);
3. after what a CodeDeploy deployment changes (new task definition revision on
   the service, listeners forwarding to green, desired count moved by
   autoscaling), a plan still shows no changes: Terraform leaves CodeDeploy's
   side alone;
4. the spec changes (approval wait of the deployment) and is rendered again: the
   plan updates the deployment group in place, apply does it, and the next plan
   is empty again;
5. destroy removes everything (the pipeline's destroy job).

It runs on the patched emulator (tests/support/moto_server.py documents each
patch). pytest-terraform is not used: its fixtures apply static Terraform
directories kept under tests/, while this root is rendered by the test, needs
the emulator seeded and an override file written before init, and the test
needs to act between apply and destroy. bluegreen.emulator.sandbox.terraform runs the
real binary instead. The provider's own fixed waits (load balancer about 60 s,
Route53 records 10 to 30 s each) make this the slow test: about 2 to 3 minutes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from bluegreen.emulator import sandbox
from bluegreen.model import Environment
from bluegreen.render import render_new
from bluegreen.validate import validate_file

from tests.support.template_repo import PROJECT_ROOT

pytestmark = pytest.mark.terraform

SPEC = PROJECT_ROOT / "tests" / "specs" / "full.yaml"
ENVIRONMENT = "staging"
TIMEOUT = 420  # a safety net against a hung apply (normally ~85 s); not an assertion about speed
LOCK = ("-input=false", "-lock=false")


def _environment() -> Environment:
    return next(env for env in validate_file(SPEC).environments if env.name == ENVIRONMENT)


def _client(emulator: sandbox.Emulator, env: Environment, service: str) -> Any:
    credentials = sandbox.credentials_for_account(emulator.endpoint, env.account_id)
    return sandbox.client(service, emulator.endpoint, env.region, credentials)


def _resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every managed resource of a `terraform show -json` state, modules included."""
    found = []

    def walk(module: dict[str, Any]) -> None:
        found.extend(r for r in module.get("resources", []) if r["mode"] == "managed")
        for child in module.get("child_modules", []):
            walk(child)

    walk(state.get("values", {}).get("root_module", {}))
    return found


def _no_changes(root) -> None:
    result = sandbox.terraform(root, "plan", "-detailed-exitcode", *LOCK, check=False, timeout=TIMEOUT)
    assert result.returncode == 0, (
        f"the plan wants changes (exit {result.returncode}):\n{result.stdout}{result.stderr}"
    )


def _deploy_like_codedeploy(emulator: sandbox.Emulator, env: Environment, state: dict[str, Any]) -> None:
    """What a blue/green deployment leaves behind, done with the AWS API as CodeDeploy would."""
    ecs = _client(emulator, env, "ecs")
    elbv2 = _client(emulator, env, "elbv2")
    cluster, service_name = env.names["cluster"], env.names["service"]
    service = ecs.describe_services(cluster=cluster, services=[service_name])["services"][0]
    current = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    containers = current["containerDefinitions"]
    containers[0]["image"] = containers[0]["image"].rsplit(":", 1)[0] + ":v2"
    keep = (
        "family",
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "requiresCompatibilities",
        "cpu",
        "memory",
    )
    revision = ecs.register_task_definition(
        containerDefinitions=containers, **{k: current[k] for k in keep if k in current}
    )["taskDefinition"]["taskDefinitionArn"]
    by_name = {
        r["values"].get("name"): r["values"] for r in _resources(state) if r["type"] == "aws_lb_target_group"
    }
    green = by_name[env.names["target_group_green"]]
    desired = env.max_tasks if service["desiredCount"] != env.max_tasks else env.min_tasks
    ecs.update_service(
        cluster=cluster,
        service=service_name,
        taskDefinition=revision,
        desiredCount=desired,
        loadBalancers=[
            {**service["loadBalancers"][0], "targetGroupArn": green["arn"]},
        ],
    )
    for listener in (r for r in _resources(state) if r["type"] == "aws_lb_listener"):
        if listener["values"]["default_action"][0]["type"] == "forward":
            elbv2.modify_listener(
                ListenerArn=listener["values"]["arn"],
                DefaultActions=[{"Type": "forward", "TargetGroupArn": green["arn"]}],
            )
    after = ecs.describe_services(cluster=cluster, services=[service_name])["services"][0]
    assert (after["taskDefinition"], after["desiredCount"]) == (revision, desired)


def _render_changed_spec(repo: Path, tmp_path: Path) -> int:
    """Render full.yaml again with another approval wait for staging; copy the Terraform over `repo`.

    Only rendered files are replaced: the working copy's state, .terraform and
    override file stay. Returns the new approval wait in minutes.
    """
    data = yaml.safe_load(SPEC.read_text())
    deployment = data["environments"][ENVIRONMENT].setdefault("deployment", {})
    minutes = deployment.get("approval_timeout_minutes", 0) + 10
    deployment["approval_timeout_minutes"] = minutes
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data, sort_keys=False))
    rerendered = render_new(changed, tmp_path / "rerendered")
    terraform_dir = Path("deploy", "terraform")
    shutil.copytree(rerendered / terraform_dir, repo / terraform_dir, dirs_exist_ok=True)
    shutil.copyfile(changed, repo / "service.yaml")
    return minutes


def test_apply_then_plans_show_no_changes_then_destroy(emulator, working_copy, tmp_path):
    env = _environment()
    repo = working_copy(SPEC)
    sandbox.seed_environment(emulator.endpoint, env)
    root = sandbox.prepare_environment(repo, env, emulator.endpoint)

    sandbox.terraform(root, "plan", "-out=apply.tfplan", *LOCK, timeout=TIMEOUT)
    planned = json.loads(sandbox.terraform(root, "show", "-json", "apply.tfplan").stdout)
    sandbox.terraform(root, "apply", "-auto-approve", *LOCK, "apply.tfplan", timeout=TIMEOUT)
    state = json.loads(sandbox.terraform(root, "show", "-json").stdout)
    planned_addresses = {c["address"] for c in planned["resource_changes"] if c["mode"] == "managed"}
    assert {r["address"] for r in _resources(state)} == planned_addresses

    # The stack is in the spec's account, and the deployment group routes the real listeners.
    ecs = _client(emulator, env, "ecs")
    (service,) = ecs.describe_services(cluster=env.names["cluster"], services=[env.names["service"]])[
        "services"
    ]
    assert service["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert service["serviceArn"].split(":")[4] == env.account_id
    codedeploy = _client(emulator, env, "codedeploy")
    group = codedeploy.get_deployment_group(
        applicationName=env.names["codedeploy_app"], deploymentGroupName=env.names["deployment_group"]
    )["deploymentGroupInfo"]
    pair = group["loadBalancerInfo"]["targetGroupPairInfoList"][0]
    listeners = {
        r["values"]["arn"]: r["values"]["port"] for r in _resources(state) if r["type"] == "aws_lb_listener"
    }
    assert [listeners[a] for a in pair["prodTrafficRoute"]["listenerArns"]] == [443 if env.https else 80]
    assert [listeners[a] for a in pair["testTrafficRoute"]["listenerArns"]] == [env.test_listener_port]
    assert group["deploymentConfigName"] == env.deployment_config_name

    _no_changes(root)
    _deploy_like_codedeploy(emulator, env, state)
    # Terraform does see the deployment (the refresh finds the drift) and plans nothing for it.
    drift = sandbox.terraform(root, "plan", "-refresh-only", "-detailed-exitcode", *LOCK, check=False)
    assert drift.returncode == 2, f"the simulated deployment changed nothing Terraform reads:\n{drift.stdout}"
    for changed in ("task_definition", "desired_count", "default_action"):
        assert changed in drift.stdout
    _no_changes(root)

    minutes = _render_changed_spec(repo, tmp_path)
    sandbox.terraform(root, "plan", "-out=change.tfplan", *LOCK, timeout=TIMEOUT)
    change = json.loads(sandbox.terraform(root, "show", "-json", "change.tfplan").stdout)
    actions = {
        c["type"]: c["change"]["actions"]
        for c in change["resource_changes"]
        if c["change"]["actions"] != ["no-op"]
    }
    assert actions == {"aws_codedeploy_deployment_group": ["update"]}
    sandbox.terraform(root, "apply", "-auto-approve", *LOCK, "change.tfplan", timeout=TIMEOUT)
    group = codedeploy.get_deployment_group(
        applicationName=env.names["codedeploy_app"], deploymentGroupName=env.names["deployment_group"]
    )["deploymentGroupInfo"]
    ready = group["blueGreenDeploymentConfiguration"]["deploymentReadyOption"]
    assert ready == {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": minutes}
    _no_changes(root)

    sandbox.terraform(root, "destroy", "-auto-approve", *LOCK, timeout=TIMEOUT)
    assert _resources(json.loads(sandbox.terraform(root, "show", "-json").stdout)) == []
    assert ecs.list_clusters()["clusterArns"] == [] or all(
        c["status"] == "INACTIVE"
        for c in ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"]
    )
    assert codedeploy.list_applications()["applications"] == []
