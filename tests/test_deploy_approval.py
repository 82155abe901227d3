"""End to end: a deployment held for approval, approved, stopped, or left to time out.

A service whose deployment group waits for an approval (`approval_timeout_minutes`)
is rendered, and the REAL deploy/execute.sh deploys it to the patched emulator (the
tools and the docker TEST DOUBLE of tests/support/execute_sh.py: there is no Docker
engine here). Its deploy job waits while green runs behind the test listener; someone
runs `execute.sh approve` meanwhile, as the pipeline's manual `approve:ENV` job does.

In CodeDeploy a blue/green group whose deploymentReadyOption is STOP_DEPLOYMENT
installs the replacement task set, moves the test listener to it, and waits with the
deployment in status Ready until ContinueDeployment, a stop, or the end of
waitTimeInMinutes, when the deployment is stopped ("DeploymentReadyOption",
"ContinueDeployment", CodeDeploy API Reference). The emulator's CodeDeploy
(bluegreen.emulator.moto_patches: codedeploy_ecs_deployments_run,
codedeploy_continue_deployment) does that; these tests watch the deployment through
GetDeploymentGroup's lastAttemptedDeployment, which, unlike GetDeployment, does not
move the emulated deployment on.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from bluegreen.emulator import sandbox
from bluegreen.render import render_new
from bluegreen.validate import validate_file

from tests.support import deployments, execute_sh

pytestmark = pytest.mark.terraform

REGION = "eu-west-1"
ENV = "production"
WAIT_MINUTES = 30
SCRIPT_TIMEOUT = 300  # a safety net against a hung script, not an assertion about speed
TAGS = {n: str(n) * 40 for n in range(1, 5)}
SPEC: dict[str, Any] = {
    "schema_version": 1,
    "name": "ledger",
    "aws": {"region": REGION},
    "app": {"runtime": "python", "port": 8000},
    "deployment": {
        "strategy": "all_at_once",
        "approval_timeout_minutes": WAIT_MINUTES,
        "test_listener_cidrs": ["198.51.100.0/24"],
    },
    "environments": {ENV: {}},
}


@dataclass
class Stack:
    repo: Path
    emulator: sandbox.Emulator
    script_env: dict[str, str]
    names: dict[str, str]

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return execute_sh.run(self.repo, {**self.script_env, **extra}, *args, timeout=SCRIPT_TIMEOUT)

    def client(self, service: str) -> Any:
        credentials = sandbox.credentials_for_account(self.emulator.endpoint, None)
        return sandbox.client(service, self.emulator.endpoint, REGION, credentials)

    def output(self, name: str) -> Any:
        root = sandbox.environment_root(self.repo, ENV)
        return json.loads(sandbox.terraform(root, "output", "-json", name).stdout)

    def group(self) -> dict[str, Any]:
        return self.client("codedeploy").get_deployment_group(
            applicationName=self.names["codedeploy_app"], deploymentGroupName=self.names["deployment_group"]
        )["deploymentGroupInfo"]

    def latest(self) -> dict[str, Any]:
        """The group's latest deployment, read without moving it on (GetDeploymentGroup)."""
        return self.group().get("lastAttemptedDeployment") or {}

    def forwards_to(self, output: str) -> str:
        """The target group name a listener (an output of the root) forwards to."""
        elbv2 = self.client("elbv2")
        listener = elbv2.describe_listeners(ListenerArns=[self.output(output)])["Listeners"][0]
        arn = listener["DefaultActions"][0]["TargetGroupArn"]
        return elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["TargetGroupName"]

    def task_sets(self) -> list[dict[str, Any]]:
        return self.client("ecs").describe_task_sets(
            cluster=self.names["cluster"], service=self.names["service"]
        )["taskSets"]

    def running_image(self) -> str:
        ecs = self.client("ecs")
        arn = ecs.describe_services(cluster=self.names["cluster"], services=[self.names["service"]])[
            "services"
        ][0]["taskDefinition"]
        return ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0][
            "image"
        ]

    def deploy_in_background(
        self, pool: ThreadPoolExecutor, tag: str
    ) -> Future[subprocess.CompletedProcess[str]]:
        """`deploy` of a new image, running; returns once its deployment waits in Ready."""
        assert self.run("dockerize", ENV, IMAGE_TAG=tag).returncode == 0
        before = self.latest().get("deploymentId")
        deploy = pool.submit(self.run, "deploy", ENV, IMAGE_TAG=tag)
        deadline = time.monotonic() + SCRIPT_TIMEOUT
        while time.monotonic() < deadline and not deploy.done():
            latest = self.latest()
            if latest.get("deploymentId") != before and latest.get("status") == "Ready":
                return deploy
            time.sleep(0.2)
        result = deploy.result() if deploy.done() else None
        pytest.fail(f"the deployment never waited in Ready: {result and (result.stdout + result.stderr)}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, terraform_toolchain: str) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("approval")
    spec = work / "service.yaml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    repo = render_new(spec, work / "repo")
    (env,) = validate_file(spec).environments
    with sandbox.Emulator(patched=True) as emulator:
        sandbox.seed_environment(emulator.endpoint, env)
        sandbox.prepare_environment(repo, env, emulator.endpoint)
        credentials = sandbox.credentials_for_account(emulator.endpoint, None)
        script_env = execute_sh.environment(
            work,
            emulator.endpoint,
            REGION,
            AWS_ACCESS_KEY_ID=credentials.access_key,
            AWS_SECRET_ACCESS_KEY=credentials.secret_key,
            DEPLOY_TIMEOUT_MINUTES=str(WAIT_MINUTES + 5),
        )
        stack = Stack(repo, emulator, script_env, env.names)
        # The first release creates the service with its revision: no CodeDeploy deployment.
        assert stack.run("dockerize", ENV, IMAGE_TAG=TAGS[1]).returncode == 0
        first = stack.run("deploy", ENV, IMAGE_TAG=TAGS[1])
        assert first.returncode == 0, first.stdout + first.stderr
        yield stack


@dataclass
class Held:
    deploy: subprocess.CompletedProcess[str]
    deployment: dict[str, Any]
    blue: str
    green: str
    task_sets_while_ready: list[dict[str, Any]]
    status_while_ready: subprocess.CompletedProcess[str]
    deploy_while_ready: subprocess.CompletedProcess[str]
    prod_while_ready: str
    test_while_ready: str
    early_approve: subprocess.CompletedProcess[str]
    approve: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def held(stack: Stack) -> Held:
    blue = stack.forwards_to("prod_listener_arn")
    early_approve = stack.run("approve", ENV)
    with ThreadPoolExecutor(1) as pool:
        deploy = stack.deploy_in_background(pool, TAGS[2])
        deployment = stack.latest()
        task_sets = stack.task_sets()
        status = stack.run("status", ENV)
        deploy_again = stack.run("deploy", ENV, IMAGE_TAG=TAGS[2])
        prod, test = stack.forwards_to("prod_listener_arn"), stack.forwards_to("test_listener_arn")
        approve = stack.run("approve", ENV)
        result = deploy.result()
    green = next(
        name
        for name in (stack.output("blue_target_group_name"), stack.output("green_target_group_name"))
        if name != blue
    )
    return Held(
        result, deployment, blue, green, task_sets, status, deploy_again, prod, test, early_approve, approve
    )


def test_green_waits_on_the_test_listener_while_production_stays_on_blue(held: Held):
    assert held.prod_while_ready == held.blue
    assert held.test_while_ready == held.green
    # Green's task set is installed beside blue's (whichever blue has: a service created by
    # Terraform has none in the emulator), not yet the primary one.
    (green,) = [t for t in held.task_sets_while_ready if t["externalId"] == held.deployment["deploymentId"]]
    assert green["status"] == "ACTIVE"
    assert all(t["status"] == "PRIMARY" for t in held.task_sets_while_ready if t is not green)


def test_the_deploy_job_says_where_to_try_green_and_how_to_approve(stack: Stack, held: Held):
    assert held.deploy.returncode == 0, held.deploy.stdout + held.deploy.stderr
    assert f"deployment {held.deployment['deploymentId']}: Ready" in held.deploy.stdout
    assert f"green is ready on {stack.output('test_url')}" in held.deploy.stdout
    assert f"deploy/execute.sh approve {ENV}" in held.deploy.stdout
    assert f"approve:{ENV} job" in held.deploy.stdout


def test_status_shows_the_deployment_waiting_for_approval(stack: Stack, held: Held):
    assert held.status_while_ready.returncode == 0, held.status_while_ready.stderr
    assert re.search(
        rf"^{held.deployment['deploymentId']}\s+Ready\s", held.status_while_ready.stdout, re.MULTILINE
    )
    assert f"waiting for approval: green is on {stack.output('test_url')}" in held.status_while_ready.stdout
    assert (
        "traffic: blue" in held.status_while_ready.stdout
        or "traffic: green" in held.status_while_ready.stdout
    )


def test_a_deploy_while_a_deployment_waits_for_approval_says_so_and_changes_nothing(held: Held):
    refused = held.deploy_while_ready
    assert refused.returncode == 1
    assert (
        f"deployment {held.deployment['deploymentId']} of {ENV} waits for approval: approve it "
        f"(deploy/execute.sh approve {ENV})" in refused.stderr
    )
    assert "Apply complete" not in refused.stdout


def test_approve_moves_production_traffic_to_green_and_the_deploy_job_succeeds(stack: Stack, held: Held):
    assert held.approve.returncode == 0, held.approve.stderr
    assert f"approved deployment {held.deployment['deploymentId']}" in held.approve.stdout
    info = stack.client("codedeploy").get_deployment(deploymentId=held.deployment["deploymentId"])[
        "deploymentInfo"
    ]
    assert info["status"] == "Succeeded"
    assert stack.forwards_to("prod_listener_arn") == held.green
    assert [task_set["status"] for task_set in stack.task_sets()] == ["PRIMARY"]
    assert stack.running_image().endswith(
        stack.client("ecr").describe_images(
            repositoryName=stack.names["ecr_repository"], imageIds=[{"imageTag": TAGS[2]}]
        )["imageDetails"][0]["imageDigest"]
    )
    assert "scaling resumed" in held.deploy.stdout


def test_approve_refuses_when_no_deployment_waits(stack: Stack, held: Held):
    # Before any CodeDeploy deployment (the first release went without one)...
    assert held.early_approve.returncode == 1
    assert f"{ENV} has no deployment to approve" in held.early_approve.stderr
    # ... and once the deployment is over.
    again = stack.run("approve", ENV)
    assert again.returncode == 1
    assert f"deployment {held.deployment['deploymentId']} of {ENV} has ended (Succeeded)" in again.stderr


def test_rollback_of_a_deployment_waiting_for_approval_stops_it_and_blue_keeps_serving(
    stack: Stack, held: Held
):
    live = stack.forwards_to("prod_listener_arn")
    image = stack.running_image()
    with ThreadPoolExecutor(1) as pool:
        deploy = stack.deploy_in_background(pool, TAGS[3])
        waiting = stack.latest()["deploymentId"]
        rollback = stack.run("rollback", ENV)
        result = deploy.result()

    assert rollback.returncode == 0, rollback.stderr
    assert f"stopped deployment {waiting}" in rollback.stdout
    assert result.returncode == 1
    assert f"deployment {waiting} ended Stopped" in result.stderr
    info = stack.client("codedeploy").get_deployment(deploymentId=waiting)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "MANUAL_STOP")
    # Production never moved; green's task set is gone and the test listener is back on blue.
    assert stack.forwards_to("prod_listener_arn") == live
    assert stack.forwards_to("test_listener_arn") == live
    assert [task_set["status"] for task_set in stack.task_sets()] == ["PRIMARY"]
    assert stack.running_image() == image
    assert "scaling resumed" in result.stdout


def test_an_approval_that_never_comes_stops_the_deployment_at_the_end_of_the_wait(stack: Stack, held: Held):
    """The group's wait shortened to 0 minutes (UpdateDeploymentGroup as the administrator; the
    next `deploy` would put the spec's wait back with its apply), then a deployment of the running
    revision: once Ready it is stopped at the next look, as CodeDeploy stops a deployment when
    waitTimeInMinutes pass without ContinueDeployment, and blue keeps serving."""
    codedeploy = stack.client("codedeploy")
    config = stack.group()["blueGreenDeploymentConfiguration"]
    config["deploymentReadyOption"] = {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 0}
    codedeploy.update_deployment_group(
        applicationName=stack.names["codedeploy_app"],
        currentDeploymentGroupName=stack.names["deployment_group"],
        blueGreenDeploymentConfiguration=config,
    )
    live = stack.forwards_to("prod_listener_arn")
    ecs = stack.client("ecs")
    service = ecs.describe_services(cluster=stack.names["cluster"], services=[stack.names["service"]])[
        "services"
    ][0]
    deployment = deployments.create(codedeploy, stack.names, service["taskDefinition"], 8000)
    seen = [codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"] for _ in range(4)]

    assert [info["status"] for info in seen] == ["InProgress", "Ready", "Stopped", "Stopped"]
    assert seen[-1]["errorInformation"]["code"] == "TIMEOUT"
    assert stack.forwards_to("prod_listener_arn") == live
    assert stack.forwards_to("test_listener_arn") == live
    assert [task_set["status"] for task_set in stack.task_sets()] == ["PRIMARY"]
    approve = stack.run("approve", ENV)
    assert approve.returncode == 1 and "has ended (Stopped)" in approve.stderr
