"""End to end: the generated deploy/execute.sh deploys to the patched emulator.

tests/specs/minimal.yaml (python runtime, one environment, production, no DNS:
the cheapest stack with the whole deploy path) is rendered and its stack applied
with terraform against the patched emulator, as tests/test_terraform_apply.py
does. Then the REAL deploy/execute.sh runs, with:

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
  check, and registers a pushed image in the emulator's ECR;
- a PATH of links to just the tools the script needs, so that nothing of the
  machine's (its own aws or docker) is used and a test can leave one out.

moto's CodeDeploy runs no deployment; the patches of bluegreen.emulator.moto_patches
(codedeploy_ecs_deployments_run, codedeploy_stop_deployment,
codedeploy_last_deployments) make each GetDeployment move a deployment one step
and, on success, switch the ECS service and the listeners as CodeDeploy does.
A failing deployment is the release's 5xx alarm going off during it (set with
SetAlarmState): the most realistic failure, the one the deployment group's
DEPLOYMENT_STOP_ON_ALARM rollback is there for. About 3.5 minutes, more than a
third of it the provider's 60 s wait for the load balancer during the apply.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bluegreen.emulator import sandbox
from bluegreen.model import Environment
from bluegreen.validate import validate_file

from tests.support.rendering import SPECS, rendered
from tests.support.template_repo import PROJECT_ROOT

pytestmark = pytest.mark.terraform

SPEC = PROJECT_ROOT / "tests" / "specs" / "minimal.yaml"
ENVIRONMENT = "production"
AWS = Path(sys.executable).parent / "aws"
DOCKER_DOUBLE = PROJECT_ROOT / "tests" / "support" / "bin" / "docker"
# What execute.sh and the docker double run, besides aws and docker.
TOOLS = ("bash", "cat", "cut", "dirname", "git", "jq", "mktemp", "rm", "sed", "sha256sum", "sleep", "tr")
IMAGE_TAG = "3f9c2a7e5b1d4c6a8e0f2b4d6c8a0e1f3b5d7c9a"
SCRIPT_TIMEOUT = 300  # a safety net against a hung script, not an assertion about speed


def _environment() -> Environment:
    return next(env for env in validate_file(SPEC).environments if env.name == ENVIRONMENT)


def _tool_dir(directory: Path, leave_out: str | None = None) -> Path:
    """A directory of links to the tools execute.sh needs: the venv's aws, the docker double."""
    if not AWS.is_file():
        pytest.fail(f"no AWS CLI at {AWS}: pip install awscli (part of the test extra)", pytrace=False)
    tools = {name: shutil.which(name) for name in TOOLS}
    tools |= {"aws": str(AWS), "docker": str(DOCKER_DOUBLE), "terraform": sandbox.find_terraform()}
    directory.mkdir(parents=True)
    for name, target in tools.items():
        assert target, f"{name} is not installed"
        if name != leave_out:
            (directory / name).symlink_to(target)
    return directory


def _run(repo: Path, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run deploy/execute.sh in its own process group: a timeout kills terraform and aws too."""
    process = subprocess.Popen(
        [str(repo / "deploy" / "execute.sh"), *args],
        cwd=repo,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@dataclass
class Stack:
    """The applied production stack of minimal.yaml, and how to run its execute.sh."""

    repo: Path
    root: Path
    endpoint: str
    env: Environment
    script_env: dict[str, str]
    docker_log: Path

    def run(self, *args: str, **extra: str | None) -> subprocess.CompletedProcess[str]:
        """execute.sh ARGS; `extra` adds variables (None removes one)."""
        env = {**self.script_env, **extra}
        return _run(self.repo, {k: v for k, v in env.items() if v is not None}, *args)

    def client(self, service: str) -> Any:
        credentials = sandbox.credentials_for_account(self.endpoint, self.env.account_id)
        return sandbox.client(service, self.endpoint, self.env.region, credentials)

    def output(self, name: str) -> Any:
        return json.loads(sandbox.terraform(self.root, "output", "-json", name).stdout)

    def docker_calls(self) -> list[list[str]]:
        if not self.docker_log.exists():
            return []
        return [json.loads(line) for line in self.docker_log.read_text().splitlines()]

    def service(self) -> dict[str, Any]:
        ecs = self.client("ecs")
        return ecs.describe_services(
            cluster=self.output("cluster_name"), services=[self.output("service_name")]
        )["services"][0]

    def live_target_group(self) -> str:
        """Name of the target group the production listener forwards to."""
        elbv2 = self.client("elbv2")
        listener = elbv2.describe_listeners(ListenerArns=[self.output("prod_listener_arn")])["Listeners"][0]
        arn = listener["DefaultActions"][0]["TargetGroupArn"]
        return elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["TargetGroupName"]


@pytest.fixture(scope="module")
def stack(moto_server: sandbox.Emulator, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """minimal.yaml's production stack, applied against the wiped session emulator."""
    request = urllib.request.Request(f"{moto_server.endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    work = tmp_path_factory.mktemp("deploy-e2e")
    repo = work / "repo"
    shutil.copytree(rendered(SPEC), repo, symlinks=True)
    env = _environment()
    sandbox.seed_environment(moto_server.endpoint, env)
    root = sandbox.prepare_environment(repo, env.name, moto_server.endpoint)
    sandbox.terraform(root, "apply", "-auto-approve", "-input=false", "-lock=false", timeout=600)

    credentials = sandbox.credentials_for_account(moto_server.endpoint, env.account_id)
    script_env = {
        "PATH": str(_tool_dir(work / "bin")),
        "HOME": str(work),  # no ~/.aws of the machine's user
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": moto_server.endpoint,
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_DEFAULT_REGION": env.region,
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "POLL_SECONDS": "1",
        "DEPLOY_TIMEOUT_MINUTES": "2",
        "DOCKER_DOUBLE_LOG": str(work / "docker.log"),
    }
    mirror = sandbox.find_plugin_dir()
    if mirror is not None:  # without one, init downloads the provider, as on a laptop
        config = work / "terraform.tfrc"
        config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
        )
        script_env["TF_CLI_CONFIG_FILE"] = str(config)
    return Stack(repo, root, moto_server.endpoint, env, script_env, work / "docker.log")


@dataclass
class Deployed:
    """What `dockerize production` then `deploy production` did."""

    dockerize: subprocess.CompletedProcess[str]
    deploy: subprocess.CompletedProcess[str]
    image: str
    task_definition: str
    deployment_id: str


def _printed(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{pattern!r} not in the output:\n{text}"
    return found.group(1)


@pytest.fixture(scope="module")
def deployed(stack: Stack) -> Deployed:
    dockerize = stack.run("dockerize", ENVIRONMENT, IMAGE_TAG=IMAGE_TAG)
    assert dockerize.returncode == 0, dockerize.stderr
    deploy = stack.run("deploy", ENVIRONMENT, IMAGE_TAG=IMAGE_TAG)
    assert deploy.returncode == 0, f"{deploy.stdout}\n{deploy.stderr}"
    return Deployed(
        dockerize,
        deploy,
        f"{stack.output('ecr_repository_url')}:{IMAGE_TAG}",
        _printed(r"^registered (\S+)$", deploy.stdout),
        _printed(r"^created deployment (\S+)$", deploy.stdout),
    )


def test_dockerize_logs_in_builds_and_pushes_with_the_docker_double(stack: Stack, deployed: Deployed):
    registry = deployed.image.split("/")[0]
    login, build, push = stack.docker_calls()
    assert login == ["login", "--username", "AWS", "--password-stdin", registry]
    assert build[0] == "build" and build[-1] == str(stack.repo)
    assert build[build.index("--platform") + 1] == "linux/amd64"
    assert build[build.index("--tag") + 1] == deployed.image
    assert push == ["push", deployed.image]
    ecr = stack.client("ecr")
    images = ecr.describe_images(repositoryName=deployed.image.split("/", 1)[1].split(":")[0])["imageDetails"]
    assert [image["imageTags"] for image in images] == [[IMAGE_TAG]]


def test_deploy_registers_a_revision_and_runs_a_codedeploy_deployment_of_it(stack: Stack, deployed: Deployed):
    ecs, codedeploy = stack.client("ecs"), stack.client("codedeploy")
    revision = ecs.describe_task_definition(taskDefinition=deployed.task_definition)["taskDefinition"]
    assert revision["revision"] == 2, "Terraform made revision 1"
    (container,) = revision["containerDefinitions"]
    assert container["image"] == deployed.image

    info = codedeploy.get_deployment(deploymentId=deployed.deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    assert info["revision"]["revisionType"] == "AppSpecContent"
    appspec = json.loads(info["revision"]["appSpecContent"]["content"])
    load_balancer = {"ContainerName": stack.output("container_name"), "ContainerPort": 8000}
    assert appspec["Resources"] == [
        {
            "TargetService": {
                "Type": "AWS::ECS::Service",
                "Properties": {"TaskDefinition": deployed.task_definition, "LoadBalancerInfo": load_balancer},
            }
        }
    ]
    assert container["name"] == load_balancer["ContainerName"]
    assert IMAGE_TAG in info["description"]

    # What the (emulated) deployment did: the new revision serves, from the green target group.
    assert stack.service()["taskDefinition"] == deployed.task_definition
    assert stack.live_target_group() == stack.output("green_target_group_name")
    assert (stack.repo / "deploy.env").read_text() == f"DEPLOY_URL={stack.output('url')}\n"
    assert f"serves {stack.output('url')}" in deployed.deploy.stdout


def test_status_prints_the_latest_deployment_and_the_colour_serving_traffic(stack: Stack, deployed: Deployed):
    group = stack.client("codedeploy").get_deployment_group(
        applicationName=stack.output("codedeploy_app_name"),
        deploymentGroupName=stack.output("codedeploy_deployment_group_name"),
    )["deploymentGroupInfo"]
    latest = group["lastAttemptedDeployment"]
    live = stack.live_target_group()
    colour = "blue" if live == stack.output("blue_target_group_name") else "green"

    status = stack.run("status", ENVIRONMENT)

    assert status.returncode == 0, status.stderr
    assert re.search(rf"^{latest['deploymentId']}\s+{latest['status']}\s", status.stdout, re.MULTILINE)
    assert f"traffic: {colour} ({live})" in status.stdout


@pytest.fixture
def alarms_going_off(stack: Stack) -> Iterator[list[str]]:
    """Every rollback alarm of the deployment group in ALARM, back to OK afterwards."""
    group = stack.client("codedeploy").get_deployment_group(
        applicationName=stack.output("codedeploy_app_name"),
        deploymentGroupName=stack.output("codedeploy_deployment_group_name"),
    )["deploymentGroupInfo"]
    names = [alarm["name"] for alarm in group["alarmConfiguration"]["alarms"]]
    assert names and group["alarmConfiguration"]["enabled"]
    cloudwatch = stack.client("cloudwatch")
    for name in names:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="5xx of the new version")
    yield names
    for name in names:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test over")


def test_a_deployment_its_alarm_stops_fails_the_script(stack: Stack, deployed: Deployed, alarms_going_off):
    before = stack.service()
    live = stack.live_target_group()

    deploy = stack.run("deploy", ENVIRONMENT, IMAGE_TAG=IMAGE_TAG)

    assert deploy.returncode != 0, deploy.stdout
    deployment_id = _printed(r"^created deployment (\S+)$", deploy.stdout)
    assert f"deployment {deployment_id} ended Stopped" in deploy.stderr
    assert "production traffic stays on the previous version" in deploy.stderr
    assert "Activated alarms" in deploy.stderr and "Rolled back" in deploy.stderr
    info = stack.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "ALARM_ACTIVE")
    assert info["rollbackInfo"]["rollbackMessage"]
    # Nothing moved: the previous revision still serves, from the same target group.
    assert stack.service()["taskDefinition"] == before["taskDefinition"]
    assert stack.live_target_group() == live


def _appspec(task_definition: str, container: str, port: int) -> str:
    target = {
        "Type": "AWS::ECS::Service",
        "Properties": {
            "TaskDefinition": task_definition,
            "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port},
        },
    }
    return json.dumps({"version": 0.0, "Resources": [{"TargetService": target}]})


def test_rollback_stops_a_running_deployment(stack: Stack, deployed: Deployed):
    codedeploy = stack.client("codedeploy")
    running = codedeploy.create_deployment(
        applicationName=stack.output("codedeploy_app_name"),
        deploymentGroupName=stack.output("codedeploy_deployment_group_name"),
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {
                "content": _appspec(deployed.task_definition, stack.output("container_name"), 8000)
            },
        },
    )["deploymentId"]

    rollback = stack.run("rollback", ENVIRONMENT)

    assert rollback.returncode == 0, rollback.stderr
    assert f"stopped deployment {running}" in rollback.stdout
    info = codedeploy.get_deployment(deploymentId=running)["deploymentInfo"]
    assert (info["status"], info["errorInformation"]["code"]) == ("Stopped", "MANUAL_STOP")
    assert info["rollbackInfo"]["rollbackMessage"], "stopped with --auto-rollback-enabled"


def test_rollback_returns_to_the_last_good_revision(stack: Stack, deployed: Deployed):
    """A second release goes out, then is rolled back: past the stopped revisions in between."""
    second_tag = "2222222222222222222222222222222222222222"
    for command in ("dockerize", "deploy"):
        result = stack.run(command, ENVIRONMENT, IMAGE_TAG=second_tag)
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    released = stack.service()["taskDefinition"]
    assert released != deployed.task_definition
    assert int(released.rsplit(":", 1)[1]) > int(deployed.task_definition.rsplit(":", 1)[1]) + 1, (
        "stopped deployments registered revisions in between"
    )

    # No IMAGE_TAG and no git repository: a rollback needs neither.
    rollback = stack.run("rollback", ENVIRONMENT, IMAGE_TAG=None)

    assert rollback.returncode == 0, rollback.stderr
    assert rollback.stderr == ""
    good = deployed.task_definition
    deployment_id = _printed(rf"^redeploying {re.escape(good)} as deployment (\S+)$", rollback.stdout)
    info = stack.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    content = json.loads(info["revision"]["appSpecContent"]["content"])
    assert content["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] == good
    assert stack.service()["taskDefinition"] == good


# --- errors before anything is touched: no emulator needed ----------------------------------


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A copy of the rendered repo and a bare environment; terraform must not have run in it."""
    env = {"PATH": str(_tool_dir(tmp_path / "bin")), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    repo = shutil.copytree(rendered(SPEC), tmp_path / "repo", symlinks=True)
    yield repo, env
    assert not (sandbox.environment_root(repo, ENVIRONMENT) / ".terraform").exists(), "terraform ran"


@pytest.mark.parametrize(
    ("tool", "command"),
    [("jq", "deploy"), ("aws", "status"), ("docker", "dockerize"), ("terraform", "plan")],
)
def test_a_missing_tool_is_named(offline, tool: str, command: str, tmp_path: Path):
    repo, env = offline
    env["PATH"] = str(_tool_dir(tmp_path / "bin-without", leave_out=tool))
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
        return subprocess.run([str(AWS), *call, "help"], capture_output=True, text=True, env=env, check=False)

    with ThreadPoolExecutor(max_workers=8) as pool:
        helps = dict(zip(calls, pool.map(synopsis, calls), strict=True))
    for call, result in helps.items():
        assert result.returncode == 0, f"aws {' '.join(call)} is not in AWS CLI v1: {result.stderr[-500:]}"
        text = re.sub(".\b", "", result.stdout)  # man-page bold
        missing = {option for option in calls[call] if option not in text}
        assert not missing, f"aws {' '.join(call)} of AWS CLI v1 has no {sorted(missing)}"
