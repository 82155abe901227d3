"""End to end: the generated deploy/execute.sh deploys to the patched emulator, twice.

A two-environment service (staging, production; python runtime, no DNS: the
cheapest stack with the whole deploy path) is rendered, and the REAL
deploy/execute.sh runs it through the pipeline's life, with:

- the real AWS CLI, pointed at the emulator by AWS_ENDPOINT_URL, signed with the
  fake keys of the emulator's account. It is AWS CLI v1, the PyPI `awscli`
  package: v2, which the generated pipeline uses, is not published on PyPI.
  Every `aws` subcommand and option execute.sh uses exists in v1 too
  (test_aws_cli_v1_has_every_command_execute_sh_uses);
- terraform offline: the `terraform init` execute.sh runs itself gets a CLI
  configuration (TF_CLI_CONFIG_FILE) whose only installation method is the
  machine's provider mirror;
- a `docker` TEST DOUBLE (tests/support/bin/docker) instead of Docker: there is
  no Docker engine on this machine. It records its arguments, which the tests
  check, and keeps one manifest per image, so that a pushed, pulled and pushed
  again image keeps its digest as with a registry;
- a PATH of links to just the tools the script needs, so that nothing of the
  machine's (its own aws or docker) is used and a test can leave one out.

The life: staging's stack is applied by hand with no image (the service starts
with no task); the commit is built and deployed to staging; production gets the
digest staging deployed (promote) and deploys it, its stack created by that
deploy. Then service.yaml changes (an environment variable, a secret, cpu and
memory, compute.spot, the canary percent) and a new tagged private subnet
appears; the repo is rendered again, a new commit deployed to staging, and
rolled back. A deployment whose alarm goes off fails and changes nothing.

moto's CodeDeploy runs no deployment; the patches of bluegreen.emulator.moto_patches
(codedeploy_ecs_deployments_run, codedeploy_stop_deployment,
codedeploy_last_deployments) make each GetDeployment move a deployment one step
and, on success, put the AppSpec's task set in as CodeDeploy does;
ecr_image_digest names images by their manifest. A failing deployment is the
release's 5xx alarm going off during it (set with SetAlarmState): the most
realistic failure, the one the deployment group's DEPLOYMENT_STOP_ON_ALARM
rollback is there for. Several minutes: two load balancers (the provider waits
60 s for each) and five applies.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from bluegreen.demo import MARKER
from bluegreen.emulator import sandbox
from bluegreen.model import Environment
from bluegreen.render import render_new
from bluegreen.validate import validate_file

from tests.support import deployments, execute_sh
from tests.support.rendering import SPECS, rendered
from tests.support.template_repo import PROJECT_ROOT

pytestmark = pytest.mark.terraform

SPEC = PROJECT_ROOT / "tests" / "specs" / "minimal.yaml"
ENVIRONMENT = "production"  # of minimal.yaml, for the offline tests
FIRST_TAG = "3f9c2a7e5b1d4c6a8e0f2b4d6c8a0e1f3b5d7c9a"
SECOND_TAG = "2222222222222222222222222222222222222222"
THIRD_TAG = "3333333333333333333333333333333333333333"
SCRIPT_TIMEOUT = 300  # a safety net against a hung script, not an assertion about speed
REGION = "eu-west-1"
ACCOUNT = sandbox.EMULATOR_ACCOUNT_ID

# The service of the rehearsal: two environments, the settings the second release changes.
BASE_SPEC: dict[str, Any] = {
    "schema_version": 1,
    "name": "shop",
    "aws": {"region": REGION},
    "app": {
        "runtime": "python",
        "port": 8000,
        "environment": {"GREETING": "hello"},
        "secrets": {"API_TOKEN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shop/api-token"},
    },
    "compute": {"cpu": 256, "memory": 512, "spot": False},
    "deployment": {"strategy": "canary", "canary": {"percent": 10, "minutes": 5}},
    "environments": {"staging": {}, "production": {}},
}


def _changed_spec() -> dict[str, Any]:
    spec = json.loads(json.dumps(BASE_SPEC))
    app = spec["app"]
    app["environment"] = {"GREETING": "hello", "FEATURE_FLAGS": "checkout-v2"}
    app["secrets"] = {
        "API_TOKEN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shop/api-token",
        "DB_PASSWORD": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shop/db-AbCdEf",
    }
    spec["compute"] = {"cpu": 512, "memory": 1024, "spot": True}
    spec["deployment"]["canary"]["percent"] = 25
    return spec


def _run(repo: Path, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return execute_sh.run(repo, env, *args, timeout=SCRIPT_TIMEOUT)


def _nothing_to_roll_back(current: str) -> str:
    """What rollback says when no revision served before CURRENT (a task definition ARN)."""
    return f"no revision served traffic before {current.rsplit('/', 1)[1]}: there is nothing to roll back to"


def _printed(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{pattern!r} not in the output:\n{text}"
    return found.group(1)


@dataclass
class Watched:
    """A run of execute.sh, and the scaling states of its environment seen while it ran."""

    result: subprocess.CompletedProcess[str]
    suspended_states: list[bool] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return self.result.stdout

    def ok(self) -> Watched:
        assert self.result.returncode == 0, f"{self.result.stdout}\n{self.result.stderr}"
        return self


@dataclass
class Stack:
    """The rendered two-environment repo in the emulator, and how to run its execute.sh."""

    repo: Path
    endpoint: str
    script_env: dict[str, str]
    docker_log: Path
    work: Path

    def model_env(self, name: str) -> Environment:
        model = validate_file(self.repo / "service.yaml")
        return next(env for env in model.environments if env.name == name)

    def root(self, name: str) -> Path:
        return sandbox.environment_root(self.repo, name)

    def run(self, *args: str, **extra: str | None) -> subprocess.CompletedProcess[str]:
        """execute.sh ARGS; `extra` adds variables (None removes one)."""
        env = {**self.script_env, **extra}
        return _run(self.repo, {k: v for k, v in env.items() if v is not None}, *args)

    def run_watching_scaling(self, env_name: str, *args: str, **extra: str | None) -> Watched:
        """execute.sh ARGS while another thread reads the service's scaling state, as often as it can."""
        states: list[bool] = []
        done = threading.Event()
        autoscaling = self.client("application-autoscaling")
        resource = f"service/{self.names(env_name)['cluster']}/{self.names(env_name)['service']}"

        def watch() -> None:
            while not done.is_set():
                targets = autoscaling.describe_scalable_targets(
                    ServiceNamespace="ecs", ResourceIds=[resource]
                )
                for target in targets["ScalableTargets"]:
                    state = target.get("SuspendedState") or {}
                    states.append(bool(state.get("DynamicScalingInSuspended")))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            result = self.run(*args, **extra)
        finally:
            done.set()
            watcher.join()
        return Watched(result, states)

    def names(self, env_name: str) -> dict[str, str]:
        return self.model_env(env_name).names

    def client(self, service: str) -> Any:
        credentials = sandbox.credentials_for_account(self.endpoint, None)
        return sandbox.client(service, self.endpoint, REGION, credentials)

    def output(self, env_name: str, name: str) -> Any:
        return json.loads(sandbox.terraform(self.root(env_name), "output", "-json", name).stdout)

    def docker_calls(self) -> list[list[str]]:
        if not self.docker_log.exists():
            return []
        return [json.loads(line) for line in self.docker_log.read_text().splitlines()]

    def service(self, env_name: str) -> dict[str, Any]:
        names = self.names(env_name)
        ecs = self.client("ecs")
        return ecs.describe_services(cluster=names["cluster"], services=[names["service"]])["services"][0]

    def running(self, env_name: str) -> dict[str, Any]:
        """The task definition the service runs."""
        arn = self.service(env_name)["taskDefinition"]
        return self.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]

    def primary_task_set(self, env_name: str) -> dict[str, Any]:
        names = self.names(env_name)
        sets = self.client("ecs").describe_task_sets(cluster=names["cluster"], service=names["service"])
        (primary,) = [t for t in sets["taskSets"] if t["status"] == "PRIMARY"]
        return primary

    def scaling_suspended(self, env_name: str) -> dict[str, bool]:
        names = self.names(env_name)
        (target,) = self.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[f"service/{names['cluster']}/{names['service']}"]
        )["ScalableTargets"]
        return target.get("SuspendedState") or {}

    def live_target_group(self, env_name: str) -> str:
        """Name of the target group the production listener forwards to."""
        elbv2 = self.client("elbv2")
        arn = self.output(env_name, "prod_listener_arn")
        listener = elbv2.describe_listeners(ListenerArns=[arn])["Listeners"][0]
        arn = listener["DefaultActions"][0]["TargetGroupArn"]
        return elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["TargetGroupName"]

    def digest(self, env_name: str, tag: str) -> str:
        ecr = self.client("ecr")
        repository = self.names(env_name)["ecr_repository"]
        (image,) = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])[
            "imageDetails"
        ]
        return image["imageDigest"]

    def deploy_env(self) -> dict[str, str]:
        lines = (self.repo / "deploy.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)

    def render(self, spec: dict[str, Any]) -> None:
        """service.yaml becomes `spec`; the rendered files follow it, as `bluegreen sync` leaves them.

        Only rendered files are replaced: the roots' state, .terraform and override files stay.
        """
        path = self.work / f"spec-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        fresh = render_new(path, self.work / f"render-{time.monotonic_ns()}")
        for part in (Path("deploy", "terraform"), Path("deploy", "execute.sh")):
            if (fresh / part).is_dir():
                shutil.copytree(fresh / part, self.repo / part, dirs_exist_ok=True)
            else:
                shutil.copy2(fresh / part, self.repo / part)
        shutil.copyfile(path, self.repo / "service.yaml")


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def _new_stack(moto_server: sandbox.Emulator, work: Path, service: dict[str, Any]) -> Stack:
    """The repo of `service` rendered in `work`, its networks seeded in the emulator, nothing applied."""
    spec = work / "service.yaml"
    spec.write_text(yaml.safe_dump(service, sort_keys=False))
    repo = render_new(spec, work / "repo")
    model = validate_file(repo / "service.yaml")
    for env in model.environments:
        sandbox.seed_environment(moto_server.endpoint, env)
        sandbox.prepare_environment(repo, env, moto_server.endpoint)

    credentials = sandbox.credentials_for_account(moto_server.endpoint, None)
    script_env = execute_sh.environment(
        work,
        moto_server.endpoint,
        REGION,
        AWS_ACCESS_KEY_ID=credentials.access_key,
        AWS_SECRET_ACCESS_KEY=credentials.secret_key,
    )
    return Stack(repo, moto_server.endpoint, script_env, work / "docker.log", work)


@pytest.fixture(scope="module")
def stack(moto_server: sandbox.Emulator, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The rendered repo in the wiped session emulator: staging applied with no image, production not at all."""
    _reset(moto_server.endpoint)
    stack = _new_stack(moto_server, tmp_path_factory.mktemp("deploy-e2e"), BASE_SPEC)
    # A first apply before any image exists (by hand, no image variable).
    sandbox.terraform(
        stack.root("staging"), "apply", "-auto-approve", "-input=false", "-lock=false", timeout=600
    )
    return stack


@dataclass
class Deployed:
    """What `dockerize staging` then `deploy staging` of the first commit did."""

    desired_before: int
    image_before: str
    dockerize: subprocess.CompletedProcess[str]
    deploy: Watched
    image: str
    task_definition: str
    deployment_id: str
    deploy_env: dict[str, str]


@pytest.fixture(scope="module")
def first(stack: Stack) -> Deployed:
    desired_before = stack.service("staging")["desiredCount"]
    image_before = stack.running("staging")["containerDefinitions"][0]["image"]
    dockerize = stack.run("dockerize", "staging", IMAGE_TAG=FIRST_TAG)
    assert dockerize.returncode == 0, dockerize.stderr
    deploy = stack.run_watching_scaling("staging", "deploy", "staging", IMAGE_TAG=FIRST_TAG).ok()
    repository = stack.output("staging", "ecr_repository_url")
    return Deployed(
        desired_before,
        image_before,
        dockerize,
        deploy,
        f"{repository}@{stack.digest('staging', FIRST_TAG)}",
        _printed(r"^task definition (\S+) runs ", deploy.stdout),
        _printed(r"^created deployment (\S+)$", deploy.stdout),
        stack.deploy_env(),
    )


def test_a_first_apply_without_an_image_starts_no_task(stack: Stack, first: Deployed):
    assert first.desired_before == 0, "no task may start before there is an image to run"
    assert first.image_before.endswith(":no-image-pushed-yet")
    minimum = stack.model_env("staging").min_tasks
    assert stack.service("staging")["desiredCount"] == minimum, "the first deployment scaled the service up"
    assert f"first image: the service now runs {minimum} task(s)" in first.deploy.stdout


def test_dockerize_logs_in_builds_and_pushes_with_the_docker_double(stack: Stack, first: Deployed):
    repository_url = stack.output("staging", "ecr_repository_url")
    image = f"{repository_url}:{FIRST_TAG}"
    login, build, push = stack.docker_calls()[:3]
    assert login == ["login", "--username", "AWS", "--password-stdin", repository_url.split("/")[0]]
    assert build[0] == "build" and build[-1] == str(stack.repo)
    assert build[build.index("--platform") + 1] == "linux/amd64"
    assert build[build.index("--tag") + 1] == image
    assert push == ["push", image]
    images = stack.client("ecr").describe_images(repositoryName=stack.names("staging")["ecr_repository"])
    (pushed,) = images["imageDetails"]
    assert FIRST_TAG in pushed["imageTags"]


def test_deploy_deploys_terraforms_revision_with_the_pushed_image(stack: Stack, first: Deployed):
    ecs, codedeploy = stack.client("ecs"), stack.client("codedeploy")
    # The revision Terraform registered from service.yaml, with the image by digest.
    assert first.task_definition == stack.output("staging", "task_definition_arn")
    revision = ecs.describe_task_definition(taskDefinition=first.task_definition)["taskDefinition"]
    (container,) = revision["containerDefinitions"]
    assert container["image"] == first.image
    assert "@sha256:" in first.image
    assert (revision["cpu"], revision["memory"]) == ("256", "512")
    assert [e["name"] for e in container["environment"]] == ["GREETING"]
    assert [s["name"] for s in container["secrets"]] == ["API_TOKEN"]

    info = codedeploy.get_deployment(deploymentId=first.deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    assert info["revision"]["revisionType"] == "AppSpecContent"
    appspec = json.loads(info["revision"]["appSpecContent"]["content"])
    (resource,) = appspec["Resources"]
    properties = resource["TargetService"]["Properties"]
    assert resource["TargetService"]["Type"] == "AWS::ECS::Service"
    assert properties["TaskDefinition"] == first.task_definition
    assert properties["LoadBalancerInfo"] == {"ContainerName": "shop", "ContainerPort": 8000}
    # What only a deployment may change on a CODE_DEPLOY service travels with it.
    assert properties["PlatformVersion"] == "LATEST"
    awsvpc = properties["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert awsvpc["AssignPublicIp"] == "DISABLED"
    assert sorted(awsvpc["Subnets"]) == sorted(
        stack.service("staging")["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    )
    assert properties["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE", "Base": 0, "Weight": 1}]
    assert FIRST_TAG in info["description"]

    # What the (emulated) deployment did: the new revision serves, from the green target group.
    assert stack.service("staging")["taskDefinition"] == first.task_definition
    assert stack.primary_task_set("staging")["taskDefinition"] == first.task_definition
    assert stack.live_target_group("staging") == stack.output("staging", "green_target_group_name")
    assert first.deploy_env == {
        "DEPLOY_URL": stack.output("staging", "url"),
        "DEPLOYED_IMAGE": first.image,
        "IMAGE_DIGEST": first.image.split("@")[1],
    }
    assert f"serves {stack.output('staging', 'url')}" in first.deploy.stdout


def test_scaling_is_suspended_during_the_deployment_and_resumed_after_it(stack: Stack, first: Deployed):
    assert True in first.deploy.suspended_states, "never seen suspended while deploying"
    assert "scaling suspended for the deployment" in first.deploy.stdout
    assert "scaling resumed" in first.deploy.stdout
    assert not any(stack.scaling_suspended("staging").values())


def test_a_rollback_never_returns_to_the_revision_started_with_no_image(stack: Stack, first: Deployed):
    """staging's first deployment replaced the revision Terraform started with no image and no
    task: it never served, so the deployment names no revision it replaced."""
    info = stack.client("codedeploy").get_deployment(deploymentId=first.deployment_id)["deploymentInfo"]
    assert " replacing " not in info["description"]

    rollback = stack.run("rollback", "staging", IMAGE_TAG=None)

    assert rollback.returncode == 1, rollback.stdout
    assert _nothing_to_roll_back(first.task_definition) in rollback.stderr
    assert "failed at line" not in rollback.stderr
    assert stack.service("staging")["taskDefinition"] == first.task_definition


def test_the_deployed_image_is_tagged_so_that_the_lifecycle_policy_keeps_it(stack: Stack, first: Deployed):
    ecr = stack.client("ecr")
    repository = stack.names("staging")["ecr_repository"]
    digest = first.image.split("@")[1]
    (image,) = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
        "imageDetails"
    ]
    prefix = stack.output("staging", "deployed_tag_prefix")
    assert any(tag.startswith(prefix) for tag in image["imageTags"]), image["imageTags"]
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"])["rules"]
    keep = min(rules, key=lambda rule: rule["rulePriority"])
    assert keep["selection"]["tagPrefixList"] == [prefix], "deployed images are matched before any count"


@dataclass
class Promoted:
    promote: subprocess.CompletedProcess[str]
    deploy: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def promoted(stack: Stack, first: Deployed) -> Promoted:
    """production: what staging deployed, passed on through deploy.env as the pipeline does."""
    handed_on = first.deploy_env
    promote = stack.run(
        "promote", "production", IMAGE_TAG=FIRST_TAG, DEPLOYED_IMAGE=handed_on["DEPLOYED_IMAGE"]
    )
    assert promote.returncode == 0, f"{promote.stdout}\n{promote.stderr}"
    deploy = stack.run("deploy", "production", IMAGE_TAG=FIRST_TAG, IMAGE_DIGEST=handed_on["IMAGE_DIGEST"])
    assert deploy.returncode == 0, f"{deploy.stdout}\n{deploy.stderr}"
    return Promoted(promote, deploy)


def test_production_deploys_the_digest_staging_deployed(stack: Stack, first: Deployed, promoted: Promoted):
    digest = first.image.split("@")[1]
    assert stack.digest("production", FIRST_TAG) == digest
    (container,) = stack.running("production")["containerDefinitions"]
    assert container["image"] == f"{stack.output('production', 'ecr_repository_url')}@{digest}"
    assert stack.deploy_env()["IMAGE_DIGEST"] == digest
    # Built once: production's image came from staging's repository, not from a build.
    calls = stack.docker_calls()
    assert [c[0] for c in calls].count("build") == 1
    assert ["pull", "--platform", "linux/amd64", first.image] in calls
    # Created by this deploy's apply with that very revision: no deployment was needed.
    assert "the new service already runs" in promoted.deploy.stdout
    assert stack.service("production")["desiredCount"] == stack.model_env("production").min_tasks


def test_deploy_refuses_an_image_whose_digest_is_not_the_one_handed_on(stack: Stack, promoted: Promoted):
    wrong = "sha256:" + "0" * 64
    deploy = stack.run("deploy", "production", IMAGE_TAG=FIRST_TAG, IMAGE_DIGEST=wrong)
    assert deploy.returncode == 1
    assert f"not {wrong}, the image the previous environment deployed" in deploy.stderr


@dataclass
class Changed:
    plan: dict[str, Any]
    seeded_subnet: str
    deploy: Watched
    previous: str
    task_definition: str


@pytest.fixture(scope="module")
def changed(stack: Stack, first: Deployed, promoted: Promoted) -> Changed:
    """service.yaml changes, a tagged private subnet appears; staging deploys a new commit."""
    ec2 = stack.client("ec2")
    env = stack.model_env("staging")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": [env.vpc_tag_key]}])["Vpcs"][0]
    tags = [{"Key": k, "Value": v} for k, v in env.private_subnet_tags.items()]
    subnet = ec2.create_subnet(
        VpcId=vpc["VpcId"],
        CidrBlock=str(list(ipaddress.ip_network(vpc["CidrBlock"]).subnets(new_prefix=24))[200]),
        AvailabilityZone=f"{REGION}c",
        TagSpecifications=[{"ResourceType": "subnet", "Tags": tags}],
    )["Subnet"]["SubnetId"]
    stack.render(_changed_spec())
    assert stack.run("dockerize", "staging", IMAGE_TAG=SECOND_TAG).returncode == 0
    image = f"{stack.output('staging', 'ecr_repository_url')}@{stack.digest('staging', SECOND_TAG)}"
    root = stack.root("staging")
    sandbox.terraform(
        root, "plan", "-input=false", "-lock=false", f"-var=image={image}", "-out=change.tfplan"
    )
    plan = json.loads(sandbox.terraform(root, "show", "-json", "change.tfplan").stdout)
    (root / "change.tfplan").unlink()
    previous = stack.service("staging")["taskDefinition"]
    deploy = stack.run_watching_scaling("staging", "deploy", "staging", IMAGE_TAG=SECOND_TAG).ok()
    return Changed(plan, subnet, deploy, previous, _printed(r"^task definition (\S+) runs ", deploy.stdout))


NEVER_REPLACED = {"aws_ecs_service", "aws_lb", "aws_lb_listener", "aws_lb_target_group"}


def test_the_plan_of_a_spec_change_replaces_nothing_that_serves_traffic(changed: Changed):
    actions = {c["address"]: c["change"]["actions"] for c in changed.plan["resource_changes"]}
    serving = {a: act for a, act in actions.items() if a.split(".")[-2] in NEVER_REPLACED}
    assert serving and all("delete" not in act for act in serving.values()), serving
    (config,) = [a for a in actions if a.endswith("aws_codedeploy_deployment_config.this[0]")]
    assert actions[config] == ["create", "delete"], "the new config exists before the old one goes"
    (task,) = [a for a in actions if a.endswith("aws_ecs_task_definition.this")]
    assert "create" in actions[task]


def test_a_second_deploy_runs_every_changed_setting(stack: Stack, changed: Changed):
    assert changed.task_definition != changed.previous
    running = stack.running("staging")
    assert running["taskDefinitionArn"] == changed.task_definition
    (container,) = running["containerDefinitions"]
    assert (running["cpu"], running["memory"]) == ("512", "1024")
    assert sorted(e["name"] for e in container["environment"]) == ["FEATURE_FLAGS", "GREETING"]
    assert sorted(s["name"] for s in container["secrets"]) == ["API_TOKEN", "DB_PASSWORD"]
    assert container["image"].endswith(stack.digest("staging", SECOND_TAG))
    # Deployment-only settings, on the task set CodeDeploy made from the AppSpec.
    task_set = stack.primary_task_set("staging")
    assert task_set["taskDefinition"] == changed.task_definition
    assert changed.seeded_subnet in task_set["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    assert [
        (s["capacityProvider"], s["base"], s["weight"]) for s in task_set["capacityProviderStrategy"]
    ] == [
        ("FARGATE", 1, 0),
        ("FARGATE_SPOT", 0, 1),
    ]
    # The new traffic shift is a new config; the old one is gone.
    codedeploy = stack.client("codedeploy")
    group = codedeploy.get_deployment_group(
        applicationName=stack.names("staging")["codedeploy_app"],
        deploymentGroupName=stack.names("staging")["deployment_group"],
    )["deploymentGroupInfo"]
    assert group["deploymentConfigName"] == "shop-staging-canary-25-percent-5-minutes"
    configs = codedeploy.list_deployment_configs()["deploymentConfigsList"]
    assert "shop-staging-canary-10-percent-5-minutes" not in configs
    assert True in changed.deploy.suspended_states
    assert not any(stack.scaling_suspended("staging").values())


def test_a_deployment_names_the_revision_it_replaces(stack: Stack, changed: Changed):
    deployment_id = _printed(r"^created deployment (\S+)$", changed.deploy.stdout)
    info = stack.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["description"].startswith(f"shop {SECOND_TAG} sha256:")
    assert info["description"].endswith(f" replacing {changed.previous}")
    assert len(info["description"]) <= 256, "CodeDeploy's limit"


def test_the_terraform_state_after_the_second_deploy_plans_no_changes(stack: Stack, changed: Changed):
    image = stack.deploy_env()["DEPLOYED_IMAGE"]
    result = sandbox.terraform(
        stack.root("staging"), "plan", "-detailed-exitcode", "-lock=false", f"-var=image={image}", check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def rolled_back(stack: Stack, changed: Changed) -> Watched:
    # No IMAGE_TAG and no git repository: a rollback needs neither.
    return stack.run_watching_scaling("staging", "rollback", "staging", IMAGE_TAG=None).ok()


def test_rollback_restores_the_previous_revisions_settings(
    stack: Stack, changed: Changed, rolled_back: Watched
):
    assert rolled_back.result.stderr == ""
    assert f"rolling back from {changed.task_definition.rsplit('/', 1)[1]} to" in rolled_back.stdout
    running = stack.running("staging")
    assert running["taskDefinitionArn"] == changed.previous, "the revision as it was, kept by Terraform"
    (container,) = running["containerDefinitions"]
    assert (running["cpu"], running["memory"]) == ("256", "512")
    assert [e["name"] for e in container["environment"]] == ["GREETING"]
    assert container["image"].endswith(stack.digest("staging", FIRST_TAG))
    assert True in rolled_back.suspended_states
    assert not any(stack.scaling_suspended("staging").values())


def test_status_prints_the_deployment_colour_revision_and_scaling(stack: Stack, rolled_back: Watched):
    group = stack.client("codedeploy").get_deployment_group(
        applicationName=stack.names("staging")["codedeploy_app"],
        deploymentGroupName=stack.names("staging")["deployment_group"],
    )["deploymentGroupInfo"]
    latest = group["lastAttemptedDeployment"]
    live = stack.live_target_group("staging")
    colour = "blue" if live == stack.output("staging", "blue_target_group_name") else "green"

    status = stack.run("status", "staging")

    assert status.returncode == 0, status.stderr
    assert re.search(rf"^{latest['deploymentId']}\s+{latest['status']}\s", status.stdout, re.MULTILINE)
    assert f"traffic: {colour} ({live})" in status.stdout
    running = stack.running("staging")
    assert f"running: {running['family']}:{running['revision']} image " in status.stdout
    assert "environment: GREETING API_TOKEN" in status.stdout
    assert "scaling suspended: no" in status.stdout


@pytest.fixture
def alarms_going_off(stack: Stack) -> Iterator[list[str]]:
    """Every rollback alarm of staging's deployment group in ALARM, back to OK afterwards."""
    group = stack.client("codedeploy").get_deployment_group(
        applicationName=stack.names("staging")["codedeploy_app"],
        deploymentGroupName=stack.names("staging")["deployment_group"],
    )["deploymentGroupInfo"]
    names = [alarm["name"] for alarm in group["alarmConfiguration"]["alarms"]]
    assert names and group["alarmConfiguration"]["enabled"]
    cloudwatch = stack.client("cloudwatch")
    for name in names:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="5xx of the new version")
    yield names
    for name in names:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test over")


def test_a_deployment_its_alarm_stops_fails_and_resumes_scaling(
    stack: Stack, rolled_back: Watched, alarms_going_off
):
    before = stack.service("staging")
    live = stack.live_target_group("staging")
    assert stack.run("dockerize", "staging", IMAGE_TAG=THIRD_TAG).returncode == 0

    deploy = stack.run_watching_scaling("staging", "deploy", "staging", IMAGE_TAG=THIRD_TAG)

    assert deploy.result.returncode != 0, deploy.stdout
    stderr = deploy.result.stderr
    deployment_id = _printed(r"^created deployment (\S+)$", deploy.stdout)
    assert f"deployment {deployment_id} ended Stopped" in stderr
    assert "production traffic stays on the previous version" in stderr
    assert "Activated alarms" in stderr and "Rolled back" in stderr
    info = stack.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "ALARM_ACTIVE")
    assert info["rollbackInfo"]["rollbackMessage"]
    # Nothing moved: the previous revision still serves, from the same target group.
    assert stack.service("staging")["taskDefinition"] == before["taskDefinition"]
    assert stack.live_target_group("staging") == live
    # Suspended while it ran, resumed although it failed.
    assert True in deploy.suspended_states
    assert "scaling resumed" in deploy.stdout
    assert not any(stack.scaling_suspended("staging").values())


def _start_deployment(stack: Stack, env_name: str) -> str:
    """A deployment of what runs, started behind execute.sh's back (another pipeline's, say)."""
    client = stack.client("codedeploy")
    return deployments.create(client, stack.names(env_name), stack.service(env_name)["taskDefinition"], 8000)


def test_a_deploy_while_another_deployment_runs_says_which_and_changes_nothing(
    stack: Stack, rolled_back: Watched
):
    running = _start_deployment(stack, "production")
    before = stack.service("production")["taskDefinition"]

    deploy = stack.run("deploy", "production", IMAGE_TAG=FIRST_TAG)

    # (Reading its status moves the emulated deployment on a step: Created, then InProgress.)
    assert deploy.returncode == 1
    assert re.search(
        rf"deployment {running} of production is still (Created|InProgress): wait", deploy.stderr
    )
    assert "deploy/execute.sh rollback production" in deploy.stderr
    assert "Apply complete" not in deploy.stdout, "Terraform changed nothing"
    assert stack.service("production")["taskDefinition"] == before
    stack.client("codedeploy").stop_deployment(deploymentId=running)


def test_rollback_stops_a_running_deployment(stack: Stack, rolled_back: Watched):
    codedeploy = stack.client("codedeploy")
    running = _start_deployment(stack, "production")

    rollback = stack.run("rollback", "production")

    assert rollback.returncode == 0, rollback.stderr
    assert f"stopped deployment {running}" in rollback.stdout
    info = codedeploy.get_deployment(deploymentId=running)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "MANUAL_STOP")
    assert info["rollbackInfo"]["rollbackMessage"], "stopped with --auto-rollback-enabled"
    assert not any(stack.scaling_suspended("production").values())


def test_a_deployment_still_running_at_the_deadline_is_stopped_and_the_session_renewed(
    stack: Stack, rolled_back: Watched
):
    """DEPLOY_TIMEOUT_MINUTES=0: the deadline is at once. With OIDC (the emulator's STS takes any
    token), 15-minute sessions (STS's least) renewed 15 minutes before their end: every poll
    renews the session first."""
    deploy = stack.run_watching_scaling(
        "production",
        "deploy",
        "production",
        IMAGE_TAG=FIRST_TAG,
        DEPLOY_TIMEOUT_MINUTES="0",
        GITLAB_OIDC_TOKEN="header.payload.signature",
        AWS_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/gitlab-deployer",
        ROLE_SESSION_SECONDS="900",
        ROLE_RENEW_SECONDS="900",
    )

    assert deploy.result.returncode == 1, deploy.stdout
    deployment_id = _printed(r"^created deployment (\S+)$", deploy.stdout)
    assert f"deployment {deployment_id} still InProgress at the deadline" in deploy.result.stderr
    assert "stopped it, CodeDeploy rolls it back" in deploy.result.stderr
    assert f"renewed the session of arn:aws:iam::{ACCOUNT}:role/gitlab-deployer" in deploy.stdout
    info = stack.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "MANUAL_STOP")
    assert info["rollbackInfo"]["rollbackMessage"]
    assert True in deploy.suspended_states
    assert not any(stack.scaling_suspended("production").values()), "resumed after the stop"


def test_a_deployment_made_by_hand_names_no_revision_it_replaced(stack: Stack, promoted: Promoted):
    """production's only successful deployment is one made by hand (or by an older execute.sh):
    its description says nothing of the revision it replaced, so, as before, a rollback has
    nothing to return to; its own revision still counts (it is the one running)."""
    ecs, codedeploy = stack.client("ecs"), stack.client("codedeploy")
    names = stack.names("production")
    running = stack.running("production")
    listed = codedeploy.list_deployments(
        applicationName=names["codedeploy_app"],
        deploymentGroupName=names["deployment_group"],
        includeOnlyStatuses=["Succeeded"],
    )["deployments"]
    assert listed == [], "production's earlier deployments were all stopped"
    # A revision registered by hand: the running one with one more variable.
    registered = {
        key: running[key]
        for key in ("family", "taskRoleArn", "executionRoleArn", "networkMode", "cpu", "memory")
    }
    (container,) = running["containerDefinitions"]
    container = {**container, "environment": [*container["environment"], {"name": "HOTFIX", "value": "1"}]}
    by_hand = ecs.register_task_definition(
        **registered, containerDefinitions=[container], requiresCompatibilities=["FARGATE"]
    )["taskDefinition"]["taskDefinitionArn"]
    deployment_id = deployments.create(
        codedeploy, names, by_hand, 8000, description=f"shop {FIRST_TAG} hotfix"
    )
    for _ in range(5):  # each GetDeployment moves the emulated deployment one step
        status = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]
        if status == "Succeeded":
            break
    assert status == "Succeeded"
    assert stack.service("production")["taskDefinition"] == by_hand

    rollback = stack.run("rollback", "production")

    assert rollback.returncode == 1, rollback.stdout
    assert _nothing_to_roll_back(by_hand) in rollback.stderr
    assert "failed at line" not in rollback.stderr
    assert stack.service("production")["taskDefinition"] == by_hand


# --- the first rollback of a new service ------------------------------------------------------

# One environment, its stack created by the first deploy: no CodeDeploy deployment put release 1 in.
NEW_SERVICE_SPEC: dict[str, Any] = {
    "schema_version": 1,
    "name": "cart",
    "aws": {"region": REGION},
    "app": {"runtime": "python", "port": 8000},
    "environments": {"production": {}},
}
# Release 2's tag: as long as ECR allows (128 characters), its deployment's description
# is longer than CodeDeploy's 256 characters before it is cut.
LONG_TAG = "release-2-" + "0" * 118


@dataclass
class TwoReleases:
    """A new service: release 1 started by Terraform's apply, release 2 deployed by CodeDeploy."""

    stack: Stack
    release_1: str
    release_2: str
    deployment_id: str

    def image(self, tag: str) -> str:
        repository = self.stack.output("production", "ecr_repository_url")
        return f"{repository}@{self.stack.digest('production', tag)}"


@pytest.fixture(scope="module")
def new_service(moto_server: sandbox.Emulator, tmp_path_factory: pytest.TempPathFactory) -> TwoReleases:
    cart = _new_stack(moto_server, tmp_path_factory.mktemp("new-service"), NEW_SERVICE_SPEC)
    assert cart.run("dockerize", "production", IMAGE_TAG=FIRST_TAG).returncode == 0
    first = cart.run_watching_scaling("production", "deploy", "production", IMAGE_TAG=FIRST_TAG).ok()
    assert "the new service already runs" in first.stdout
    assert "created deployment" not in first.stdout
    release_1 = cart.service("production")["taskDefinition"]
    assert cart.run("dockerize", "production", IMAGE_TAG=LONG_TAG).returncode == 0
    second = cart.run_watching_scaling("production", "deploy", "production", IMAGE_TAG=LONG_TAG).ok()
    release_2 = cart.service("production")["taskDefinition"]
    assert release_2 != release_1
    return TwoReleases(cart, release_1, release_2, _printed(r"^created deployment (\S+)$", second.stdout))


@pytest.fixture(scope="module")
def first_rollback(new_service: TwoReleases) -> Watched:
    return new_service.stack.run_watching_scaling("production", "rollback", "production", IMAGE_TAG=None).ok()


def test_the_first_codedeploy_deployment_names_the_release_terraform_started(new_service: TwoReleases):
    codedeploy = new_service.stack.client("codedeploy")
    info = codedeploy.get_deployment(deploymentId=new_service.deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    assert info["description"].startswith(f"cart {LONG_TAG[:100]}")
    # Cut to CodeDeploy's limit, the revision it replaced whole.
    assert len(info["description"]) == 256
    assert info["description"].endswith(f" replacing {new_service.release_1}")


def test_the_first_rollback_returns_to_the_release_terraform_started(
    new_service: TwoReleases, first_rollback: Watched
):
    cart = new_service.stack
    short = {arn: arn.rsplit("/", 1)[1] for arn in (new_service.release_1, new_service.release_2)}
    assert f"rolling back from {short[new_service.release_2]} to {short[new_service.release_1]}" in (
        first_rollback.stdout
    )
    assert cart.service("production")["taskDefinition"] == new_service.release_1
    assert cart.primary_task_set("production")["taskDefinition"] == new_service.release_1
    (container,) = cart.running("production")["containerDefinitions"]
    assert container["image"] == new_service.image(FIRST_TAG)
    assert True in first_rollback.suspended_states
    assert not any(cart.scaling_suspended("production").values())


def test_a_second_rollback_returns_to_the_release_the_first_one_replaced(
    new_service: TwoReleases, first_rollback: Watched
):
    cart = new_service.stack

    second = cart.run("rollback", "production", IMAGE_TAG=None)

    assert second.returncode == 0, second.stdout + second.stderr
    assert cart.service("production")["taskDefinition"] == new_service.release_2
    assert cart.primary_task_set("production")["taskDefinition"] == new_service.release_2
    (container,) = cart.running("production")["containerDefinitions"]
    assert container["image"] == new_service.image(LONG_TAG)


# --- `bluegreen demo --deploy`: the rehearsal a newcomer runs ----------------------------------


def _bluegreen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # a safety net, not an assertion about speed
        check=False,
    )


def _git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_demo_deploys_keeps_the_emulator_deploys_an_edit_and_stops(terraform_toolchain, tmp_path: Path):
    spec = tmp_path / "service.yaml"
    spec.write_text(SPEC.read_text())
    workdir = tmp_path / "demo"
    first = _bluegreen("demo", str(spec), "--deploy", "--workdir", str(workdir), "--keep", cwd=tmp_path)
    env_file = workdir / "emulator.env"
    values = dict(
        line.split("=", 1)
        for line in (env_file.read_text() if env_file.exists() else "").splitlines()
        if "=" in line
    )
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        endpoint = values["AWS_ENDPOINT_URL"]
        assert sandbox.is_answering(endpoint), "--keep leaves the emulator up"
        assert values["PRODUCTION_AWS_ACCESS_KEY_ID"] and values["PRODUCTION_AWS_SECRET_ACCESS_KEY"]
        assert values["PRODUCTION_AWS_DEFAULT_REGION"] == "eu-west-1"
        # A blue/green deployment of the image put in for the commit, its steps and what runs.
        assert re.search(r"^created deployment \S+$", first.stdout, re.MULTILINE)
        assert re.search(r"^  step AllowTraffic\s+Succeeded$", first.stdout, re.MULTILINE), first.stdout
        assert re.search(
            r"^running: minimal-production:\d+ image \S+@sha256:[0-9a-f]{64} cpu 256 memory 512$",
            first.stdout,
            re.MULTILINE,
        ), first.stdout

        spec.write_text(SPEC.read_text() + "  environment:\n    GREETING: hello\n")
        second = _bluegreen("demo", str(spec), "--deploy", "--workdir", str(workdir), "--keep", cwd=tmp_path)

        assert second.returncode == 0, second.stdout + second.stderr
        # The second run re-rendered the demo's own repo, marked and with the marker outside git.
        repo = workdir / validate_file(SPEC).name
        assert (repo / MARKER).is_file()
        assert MARKER not in _git_out(repo, "ls-files")
        assert _git_out(repo, "status", "--porcelain") == ""
        assert f"still running at {endpoint}" in second.stdout
        assert "synced" in second.stdout
        assert re.search(r"^created deployment \S+$", second.stdout, re.MULTILINE), second.stdout
        assert "environment: GREETING" in second.stdout
        # Through the emulator's API: two deployments, the second one's revision runs, with the variable.
        credentials = sandbox.Credentials(
            values["PRODUCTION_AWS_ACCESS_KEY_ID"], values["PRODUCTION_AWS_SECRET_ACCESS_KEY"], ACCOUNT
        )
        codedeploy = sandbox.client("codedeploy", endpoint, "eu-west-1", credentials)
        deployments = codedeploy.list_deployments(
            applicationName="minimal-production", deploymentGroupName="minimal-production"
        )["deployments"]
        assert len(deployments) == 2
        ecs = sandbox.client("ecs", endpoint, "eu-west-1", credentials)
        arn = ecs.describe_services(cluster="minimal-production", services=["minimal-production"])[
            "services"
        ][0]["taskDefinition"]
        (container,) = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"][
            "containerDefinitions"
        ]
        assert [e["name"] for e in container["environment"]] == ["GREETING"]
    finally:
        stop = _bluegreen("demo", "--stop", "--workdir", str(workdir), cwd=tmp_path)
        pid = values.get("BLUEGREEN_EMULATOR_PID", "")
        if pid.isdigit():
            sandbox.stop_detached(int(pid))  # whatever --stop did: no server outlives the test
    assert stop.returncode == 0, stop.stderr
    assert "emulator stopped" in stop.stdout
    assert not env_file.exists()
    assert not sandbox.is_answering(values["AWS_ENDPOINT_URL"])


# --- errors before anything is touched: no emulator needed ----------------------------------


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A copy of the rendered repo and a bare environment; terraform must not have run in it."""
    env = {"PATH": str(execute_sh.tool_dir(tmp_path / "bin")), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    repo = shutil.copytree(rendered(SPEC), tmp_path / "repo", symlinks=True)
    yield repo, env
    assert not (sandbox.environment_root(repo, ENVIRONMENT) / ".terraform").exists(), "terraform ran"


@pytest.mark.parametrize(
    ("tool", "command"),
    [("jq", "deploy"), ("aws", "status"), ("docker", "dockerize"), ("terraform", "plan")],
)
def test_a_missing_tool_is_named(offline, tool: str, command: str, tmp_path: Path):
    repo, env = offline
    env["PATH"] = str(execute_sh.tool_dir(tmp_path / "bin-without", leave_out=tool))
    result = _run(repo, env, command, ENVIRONMENT)
    assert result.returncode != 0
    assert f"execute.sh: {tool} is required but not installed" in result.stderr


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (["destroy", ENVIRONMENT], {}, f"destroying {ENVIRONMENT} needs CONFIRM_DESTROY={ENVIRONMENT}"),
        (["destroy", ENVIRONMENT], {"CONFIRM_DESTROY": "yes"}, f"needs CONFIRM_DESTROY={ENVIRONMENT}"),
        (["deploy"], {}, f"which environment? (one of: {ENVIRONMENT})"),
        (["deploy", "staging"], {}, "unknown environment 'staging'"),
        (["plan", ENVIRONMENT], {"GITLAB_OIDC_TOKEN": "token"}, "AWS_ROLE_ARN is not"),
        (["ship", ENVIRONMENT], {}, "unknown command 'ship'"),
    ],
    ids=[
        "no-confirmation",
        "wrong-confirmation",
        "no-environment",
        "unknown-environment",
        "no-role",
        "command",
    ],
)
def test_a_missing_or_wrong_variable_or_argument_is_refused(offline, args, extra, message):
    repo, env = offline
    result = _run(repo, {**env, **extra}, *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "failed at line" not in result.stderr, "a clear message, not the ERR trap"


# --- the AWS CLI v1 stands in for v2 ----------------------------------------------------------

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_AWS_CALL = re.compile(r"(?:^|[\s($])aws ([a-z0-9-]+) ([a-z0-9-]+)(.*)")


def _aws_calls(script: str) -> dict[tuple[str, str], set[str]]:
    """(service, operation) -> options of every `aws` call in a shell script."""
    calls: dict[tuple[str, str], set[str]] = {}
    for line in script.replace("\\\n", " ").splitlines():
        statement = line.strip()
        if statement.startswith(("#", "need ")):
            continue
        for match in _AWS_CALL.finditer(statement):
            # Quoted arguments out (a JMESPath query may hold a pipe), then up to the next pipe.
            rest = _QUOTED.sub('""', match.group(3)).split("|")[0]
            options = re.findall(r"(?<!\S)--[a-z0-9-]+", rest)
            calls.setdefault((match.group(1), match.group(2)), set()).update(options)
    return calls


def test_aws_cli_v1_has_every_command_execute_sh_uses(tmp_path: Path):
    calls: dict[tuple[str, str], set[str]] = {}
    for spec in SPECS:
        for call, options in _aws_calls((rendered(spec) / "deploy" / "execute.sh").read_text()).items():
            calls.setdefault(call, set()).update(options)
    assert ("deploy", "create-deployment") in calls and ("ecr", "get-login-password") in calls

    def synopsis(call: tuple[str, str]) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MANPAGER": "cat", "PAGER": "cat"}
        return subprocess.run(
            [str(execute_sh.AWS_CLI), *call, "help"], capture_output=True, text=True, env=env, check=False
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        helps = dict(zip(calls, pool.map(synopsis, calls), strict=True))
    for call, result in helps.items():
        assert result.returncode == 0, f"aws {' '.join(call)} is not in AWS CLI v1: {result.stderr[-500:]}"
        text = re.sub(".\b", "", result.stdout)  # man-page bold
        missing = {option for option in calls[call] if option not in text}
        assert not missing, f"aws {' '.join(call)} of AWS CLI v1 has no {sorted(missing)}"
