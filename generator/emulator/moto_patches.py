"""moto in server mode, with the few fixes `terraform apply` and `deploy/execute.sh` need.

    python -m bluegreen.emulator.moto_patches --host 127.0.0.1 --port 5000 [--log-actions]

With $BLUEGREEN_RECORD_REQUESTS naming a file, every AWS request the server answers
is appended to it as a JSON line (bluegreen.emulator.recorder).

Starts exactly what `python -m moto.server -H HOST -p PORT` starts, after applying
the patches below. bluegreen.emulator.sandbox.Emulator(patched=True) runs this module.

Each patch fills one gap of moto 5.2 that the hashicorp/aws 5.x provider runs
into while creating, reading back, changing or deleting the generated resources
(the VPC one: seeding a VPC with the id a spec names). They add or correct API
behaviour in the shape of the real AWS API, nothing else; the docstring of each
says what moto gets wrong and what would fail without it. tests/test_terraform_apply.py
(apply, plans with no changes, an in-place change, destroy) and the plan of
tests/specs/plain-http.yaml (explicit vpc_id) fail without them. Four more
(codedeploy_ecs_deployments_run, codedeploy_stop_deployment,
codedeploy_continue_deployment, codedeploy_last_deployments) let the generated
deploy/execute.sh run a CodeDeploy deployment to its end, approval included,
which moto never does, and ecr_image_digest names an
image by its manifest as registries do (deploy/execute.sh deploys and promotes
by digest): tests/test_deploy_e2e.py needs them. Patches that add
a missing operation step aside when moto has it (`_add`), so an upgrade never
hides moto's own implementation; the ones that correct a response wrap moto's and
change only the field in question.

What needs no patch in moto 5.2.5 (checked): CodeDeploy timestamps (createTime
is epoch seconds, which the provider decodes; older moto sent strings).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from . import recorder

PATCHES: list[Callable[[], None]] = []


def patch(function: Callable[[], None]) -> Callable[[], None]:
    PATCHES.append(function)
    return function


def _add(cls: type, name: str, method: Callable[..., Any]) -> None:
    """Give `cls` the method `name` unless moto already implements it."""
    if name not in vars(cls):
        setattr(cls, name, method)


# --- CodeDeploy --------------------------------------------------------------------------

# What `aws codedeploy get-deployment-config` answers for the predefined ECS configurations.
_PREDEFINED_ECS_CONFIGS = {
    "CodeDeployDefault.ECSAllAtOnce": {"type": "AllAtOnce"},
    "CodeDeployDefault.ECSCanary10Percent5Minutes": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
    },
    "CodeDeployDefault.ECSCanary10Percent15Minutes": {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 15},
    },
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 1},
    },
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 3},
    },
}


@patch
def codedeploy_deployment_configs() -> None:
    """CreateDeploymentConfig, GetDeploymentConfig, DeleteDeploymentConfig, ListDeploymentConfigs.

    moto has no deployment configurations at all ("The create_deployment_config
    action has not been implemented"): `aws_codedeploy_deployment_config`, the
    custom canary/linear traffic shift of every non-all-at-once spec, fails to
    create (the provider retries the 500 until its timeout). The patch stores
    configs per account and region and answers Get for the predefined ECS names too.
    """
    import uuid

    from moto.codedeploy.models import CodeDeployBackend
    from moto.codedeploy.responses import CodeDeployResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.utils import utcnow

    def configs(backend: CodeDeployBackend) -> dict[str, dict[str, Any]]:
        return backend.__dict__.setdefault("bluegreen_deployment_configs", {})

    def create_deployment_config(self: CodeDeployResponse) -> str:
        name = self._get_param("deploymentConfigName")
        stored = configs(self.codedeploy_backend)
        if name in stored or name.startswith("CodeDeployDefault."):
            raise JsonRESTError(
                "DeploymentConfigAlreadyExistsException", f"A deployment configuration named {name} exists."
            )
        config_id = str(uuid.uuid4())
        info = {
            "deploymentConfigId": config_id,
            "deploymentConfigName": name,
            "computePlatform": self._get_param("computePlatform") or "Server",
            "createTime": utcnow().timestamp(),
        }
        for key in ("minimumHealthyHosts", "trafficRoutingConfig", "zonalConfig"):
            if self._get_param(key) is not None:
                info[key] = self._get_param(key)
        stored[name] = info
        return _json({"deploymentConfigId": config_id})

    def get_deployment_config(self: CodeDeployResponse) -> str:
        name = self._get_param("deploymentConfigName")
        info = configs(self.codedeploy_backend).get(name)
        if info is None and name in _PREDEFINED_ECS_CONFIGS:
            info = {
                "deploymentConfigName": name,
                "computePlatform": "ECS",
                "trafficRoutingConfig": _PREDEFINED_ECS_CONFIGS[name],
            }
        if info is None:
            raise JsonRESTError(
                "DeploymentConfigDoesNotExistException", f"No deployment configuration {name}."
            )
        return _json({"deploymentConfigInfo": info})

    def delete_deployment_config(self: CodeDeployResponse) -> str:
        name = self._get_param("deploymentConfigName")
        if configs(self.codedeploy_backend).pop(name, None) is None:
            raise JsonRESTError(
                "DeploymentConfigDoesNotExistException", f"No deployment configuration {name}."
            )
        return "{}"

    def list_deployment_configs(self: CodeDeployResponse) -> str:
        names = sorted(_PREDEFINED_ECS_CONFIGS) + sorted(configs(self.codedeploy_backend))
        return _json({"deploymentConfigsList": names})

    _add(CodeDeployResponse, "create_deployment_config", create_deployment_config)
    _add(CodeDeployResponse, "get_deployment_config", get_deployment_config)
    _add(CodeDeployResponse, "delete_deployment_config", delete_deployment_config)
    _add(CodeDeployResponse, "list_deployment_configs", list_deployment_configs)


@patch
def codedeploy_alarm_configuration() -> None:
    """GetDeploymentGroup returns the alarm configuration it was given.

    moto stores the alarmConfiguration of CreateDeploymentGroup but answers
    `"alarmConfiguration": {}` (left unimplemented in moto): the provider then reads the
    group's rollback alarms as gone, and every plan after apply wants to add them
    back, so "a second plan shows no changes" could never hold.
    """
    from moto.codedeploy import responses

    original = responses._deployment_group_info
    if getattr(original, "bluegreen_patched", False):
        return

    def deployment_group_info(deployment_group: Any) -> dict[str, Any]:
        info = original(deployment_group)
        if info.get("alarmConfiguration") == {}:
            info["alarmConfiguration"] = deployment_group.alarm_configuration or {
                "enabled": False,
                "ignorePollAlarmFailure": False,
                "alarms": [],
            }
        return info

    deployment_group_info.bluegreen_patched = True  # type: ignore[attr-defined]
    responses._deployment_group_info = deployment_group_info


@patch
def codedeploy_update_and_delete() -> None:
    """UpdateDeploymentGroup, DeleteDeploymentGroup, DeleteApplication.

    moto can create a CodeDeploy application and deployment group but never change
    or delete them: any in-place change of the deployment group (say the spec's
    approval timeout) and every `terraform destroy` fail with "not implemented".
    Update applies the fields the request carries, as CodeDeploy does; deleting an
    application deletes its deployment groups.
    """
    from moto.codedeploy.responses import CodeDeployResponse

    updatable = {
        "deploymentConfigName": "deployment_config_name",
        "ec2TagFilters": "ec2_tag_filters",
        "onPremisesInstanceTagFilters": "on_premises_instance_tag_filters",
        "autoScalingGroups": "auto_scaling_groups",
        "serviceRoleArn": "service_role_arn",
        "triggerConfigurations": "trigger_configurations",
        "alarmConfiguration": "alarm_configuration",
        "autoRollbackConfiguration": "auto_rollback_configuration",
        "outdatedInstancesStrategy": "outdated_instances_strategy",
        "deploymentStyle": "deployment_style",
        "blueGreenDeploymentConfiguration": "blue_green_deployment_configuration",
        "loadBalancerInfo": "load_balancer_info",
        "ec2TagSet": "ec2_tag_set",
        "ecsServices": "ecs_services",
        "onPremisesTagSet": "on_premises_tag_set",
        "terminationHookEnabled": "termination_hook_enabled",
    }

    def update_deployment_group(self: CodeDeployResponse) -> str:
        backend = self.codedeploy_backend
        app_name = self._get_param("applicationName")
        current = self._get_param("currentDeploymentGroupName")
        group = backend.get_deployment_group(app_name, current)
        for param, attribute in updatable.items():
            value = self._get_param(param)
            if value is not None:
                setattr(group, attribute, value)
        new_name = self._get_param("newDeploymentGroupName")
        if new_name and new_name != current:
            groups = backend.deployment_groups[app_name]
            groups[new_name] = groups.pop(current)
            group.deployment_group_name = new_name
        return _json({"hooksNotCleanedUp": []})

    def delete_deployment_group(self: CodeDeployResponse) -> str:
        backend = self.codedeploy_backend
        app_name = self._get_param("applicationName")
        name = self._get_param("deploymentGroupName")
        backend.get_deployment_group(app_name, name)  # raises the AWS errors when missing
        del backend.deployment_groups[app_name][name]
        return _json({"hooksNotCleanedUp": []})

    def delete_application(self: CodeDeployResponse) -> str:
        backend = self.codedeploy_backend
        app_name = self._get_param("applicationName")
        if app_name in backend.applications:
            del backend.applications[app_name]
            backend.deployment_groups.pop(app_name, None)
        # AWS answers success for an application that does not exist.
        return "{}"

    _add(CodeDeployResponse, "update_deployment_group", update_deployment_group)
    _add(CodeDeployResponse, "delete_deployment_group", delete_deployment_group)
    _add(CodeDeployResponse, "delete_application", delete_application)


# Statuses of a deployment CodeDeploy is still working on.
_ACTIVE_DEPLOYMENT = ("Created", "Queued", "InProgress", "Baking", "Ready")
_deployment_lock = threading.Lock()


def _end_deployment(deployment: Any, status: str, error: tuple[str, str] | None, rollback: bool) -> None:
    """Put a deployment in an end state; errorInformation and rollbackInfo as GetDeployment shows them."""
    from moto.core.utils import utcnow

    deployment.status = status
    deployment.complete_time = utcnow()
    if error:
        deployment.__dict__["bluegreen_error"] = {"code": error[0], "message": error[1]}
    if rollback:
        deployment.__dict__["bluegreen_rollback"] = {
            "rollbackMessage": "Rolled back: production traffic stays on the original task set."
        }


def _rolls_back(deployment: Any, event: str) -> bool:
    """Whether the deployment's (else its group's) autoRollbackConfiguration rolls back on `event`."""
    config = deployment.auto_rollback_configuration or deployment.deployment_group.auto_rollback_configuration
    return bool(config and config.get("enabled") and event in config.get("events", []))


def _active_alarms(account: str, region: str, deployment: Any) -> list[str]:
    """Alarms of the group's enabled alarm configuration that are in ALARM."""
    from moto.cloudwatch.models import cloudwatch_backends

    config = deployment.deployment_group.alarm_configuration or {}
    if not config.get("enabled"):
        return []
    alarms = cloudwatch_backends[account][region].alarms
    names = [alarm.get("name") for alarm in config.get("alarms", [])]
    return [name for name in names if name in alarms and alarms[name].state_value == "ALARM"]


def _target_service(account: str, region: str, deployment: Any) -> dict[str, Any] | str:
    """The AppSpec's TargetService properties, or what CodeDeploy would find wrong with them."""
    import yaml
    from moto.ecs.exceptions import TaskDefinitionNotFoundException
    from moto.ecs.models import ecs_backends

    try:
        content = deployment.revision["appSpecContent"]["content"]
        properties = yaml.safe_load(content)["Resources"][0]["TargetService"]["Properties"]
        arn = properties["TaskDefinition"]
        container = properties["LoadBalancerInfo"]["ContainerName"]
        port = int(properties["LoadBalancerInfo"]["ContainerPort"])
    except (KeyError, IndexError, TypeError, ValueError, yaml.YAMLError) as error:
        return f"The AppSpec file is not valid: {error!r}"
    try:
        task_definition = ecs_backends[account][region].describe_task_definition(arn)
    except TaskDefinitionNotFoundException:
        return f"The task definition {arn} in the AppSpec file does not exist."
    # "Amazon ECS task definition states" (ECS Developer Guide): an INACTIVE
    # (deregistered) revision runs no new task, so no replacement task set either.
    if task_definition.status == "INACTIVE":
        return f"The task definition {arn} in the AppSpec file is INACTIVE: ECS starts no new task from it."
    ports = {
        mapping.get("containerPort")
        for definition in task_definition.container_definitions
        if definition.get("name") == container
        for mapping in definition.get("portMappings", [])
    }
    if port not in ports:
        return f"The task definition {arn} has no container {container} with port {port}."
    return properties


def _network_configuration(properties: dict[str, Any]) -> dict[str, Any] | None:
    awsvpc = (properties.get("NetworkConfiguration") or {}).get("AwsvpcConfiguration")
    if not awsvpc:
        return None
    return {
        "awsvpcConfiguration": {
            "subnets": list(awsvpc.get("Subnets", [])),
            "securityGroups": list(awsvpc.get("SecurityGroups", [])),
            "assignPublicIp": awsvpc.get("AssignPublicIp", "DISABLED"),
        }
    }


def _listeners(account: str, region: str, deployment: Any) -> tuple[Any, list[str], list[str], str, str]:
    """The load balancer backend, the production and test listener ARNs, and the pair's live
    (what production traffic reaches now) and replacement target group ARNs."""
    from moto.elbv2.models import elbv2_backends

    group = deployment.deployment_group
    elb = elbv2_backends[account][region]
    pair = group.load_balancer_info["targetGroupPairInfoList"][0]
    prod = pair["prodTrafficRoute"]["listenerArns"]
    test = pair.get("testTrafficRoute", {}).get("listenerArns", [])
    action = elb.describe_listeners(None, prod[:1])[0].default_actions[0].data
    live = (
        action.get("TargetGroupArn")
        or max(action["ForwardConfig"]["TargetGroups"], key=lambda t: t.get("Weight", 1))["TargetGroupArn"]
    )
    arns = {tg.name: tg.arn for tg in elb.target_groups.values()}
    replacement = next(arns[t["name"]] for t in pair["targetGroups"] if arns[t["name"]] != live)
    return elb, prod, test, live, replacement


def _forward(elb: Any, listeners: list[str], target_group: str) -> None:
    for arn in listeners:
        elb.modify_listener(
            arn, certificates=[], actions=[{"Type": "forward", "TargetGroupArn": target_group}]
        )


def _install(account: str, region: str, deployment: Any, properties: dict[str, Any]) -> None:
    """Install and AllowTestTraffic: a replacement task set per service of the group runs the
    AppSpec's task definition behind the pair's idle target group, with the AppSpec's network
    configuration, capacity provider strategy and platform version; the test listener
    forwards there, production traffic stays where it is.

    CodeDeploy creates the replacement task set from the AppSpec ("AppSpec 'resources'
    section for Amazon ECS deployments", CodeDeploy User Guide): its AppSpec names
    translate to the CreateTaskSet fields as below.
    """
    from moto.ecs.models import ecs_backends

    capacity_providers = [
        {
            "capacityProvider": item["CapacityProvider"],
            "base": item.get("Base", 0),
            "weight": item.get("Weight", 0),
        }
        for item in properties.get("CapacityProviderStrategy") or []
    ]
    elb, _, test, _, replacement = _listeners(account, region, deployment)
    _forward(elb, test, replacement)
    ecs = ecs_backends[account][region]
    task_sets = []
    for ref in deployment.deployment_group.ecs_services:
        (service,), _ = ecs.describe_services(ref["clusterName"], [ref["serviceName"]])
        load_balancers = [{**lb, "targetGroupArn": replacement} for lb in service.load_balancers]
        task_set = ecs.create_task_set(
            service.arn,
            ref["clusterName"],
            properties["TaskDefinition"],
            external_id=deployment.deployment_id,
            network_configuration=_network_configuration(properties),
            load_balancers=load_balancers,
            launch_type=None if capacity_providers else "FARGATE",
            capacity_provider_strategy=capacity_providers,
            platform_version=properties.get("PlatformVersion"),
        )
        if capacity_providers:
            task_set.launch_type = None  # moto's default, EC2, is for a task set with neither
        task_sets.append((service, task_set))
    deployment.__dict__["bluegreen_installed"] = {"target_group": replacement, "task_sets": task_sets}


def _allow_traffic(account: str, region: str, deployment: Any) -> None:
    """AllowTraffic and the end of the deployment: the production (and test) listeners forward
    to the replacement target group; each replacement task set becomes the service's one
    task set, PRIMARY (the original is terminated once the deployment is over)."""
    from moto.ecs.models import ecs_backends

    installed = deployment.__dict__["bluegreen_installed"]
    elb, prod, test, _, _ = _listeners(account, region, deployment)
    _forward(elb, [*prod, *test], installed["target_group"])
    ecs = ecs_backends[account][region]
    for service, task_set in installed["task_sets"]:
        ecs.update_service_primary_task_set(service.cluster_arn, service.arn, task_set.task_set_arn)
        for old in [t for t in service.task_sets if t is not task_set]:
            service.task_sets.remove(old)


def _uninstall(account: str, region: str, deployment: Any) -> None:
    """A deployment stopped after Install: its replacement task sets are deleted and the test
    listener forwards to the original target group again, as production traffic never left it."""
    installed = deployment.__dict__.pop("bluegreen_installed", None)
    if installed is None:
        return
    elb, _, test, live, _ = _listeners(account, region, deployment)
    _forward(elb, test, live)
    for service, task_set in installed["task_sets"]:
        if task_set in service.task_sets:
            service.task_sets.remove(task_set)


def _ready_option(deployment: Any) -> dict[str, Any]:
    config = deployment.deployment_group.blue_green_deployment_configuration or {}
    return config.get("deploymentReadyOption") or {}


def _holds_for_approval(deployment: Any) -> bool:
    """Whether green waits for ContinueDeployment before production traffic moves: the group's
    deploymentReadyOption is STOP_DEPLOYMENT ("the deployment is stopped if traffic is not
    rerouted manually within waitTimeInMinutes"; DeploymentReadyOption, CodeDeploy API
    Reference). CONTINUE_DEPLOYMENT reroutes at once."""
    return _ready_option(deployment).get("actionOnTimeout") == "STOP_DEPLOYMENT"


def _stop(account: str, region: str, deployment: Any, error: tuple[str, str], rollback: bool) -> None:
    _uninstall(account, region, deployment)
    _end_deployment(deployment, "Stopped", error, rollback)


def _advance_deployment(account: str, region: str, deployment: Any) -> None:
    """One step of an ECS deployment: Created -> InProgress -> [Ready -> InProgress] ->
    Stopped, Failed or Succeeded."""
    from datetime import timedelta

    from moto.core.utils import utcnow

    if deployment.status == "Created":
        deployment.status = "InProgress"
        deployment.start_time = utcnow()
        return
    if deployment.status not in ("InProgress", "Ready"):
        return
    alarms = _active_alarms(account, region, deployment)
    if alarms:
        message = (
            "One or more alarms have been activated according to the Amazon CloudWatch metrics you "
            f"selected, and the affected deployments have been stopped. Activated alarms: {', '.join(alarms)}"
        )
        rollback = _rolls_back(deployment, "DEPLOYMENT_STOP_ON_ALARM")
        _stop(account, region, deployment, ("ALARM_ACTIVE", message), rollback)
        return
    if deployment.status == "Ready":
        wait = timedelta(minutes=int(_ready_option(deployment).get("waitTimeInMinutes") or 0))
        if utcnow() - deployment.__dict__["bluegreen_ready_since"] >= wait:
            message = "The deployment timed out while waiting for traffic to be rerouted manually."
            _stop(
                account,
                region,
                deployment,
                ("TIMEOUT", message),
                _rolls_back(deployment, "DEPLOYMENT_FAILURE"),
            )
        return
    if "bluegreen_installed" not in deployment.__dict__:
        properties = _target_service(account, region, deployment)
        if isinstance(properties, str):
            rollback = _rolls_back(deployment, "DEPLOYMENT_FAILURE")
            _end_deployment(deployment, "Failed", ("INVALID_REVISION", properties), rollback)
            return
        _install(account, region, deployment, properties)
        if _holds_for_approval(deployment):
            deployment.status = "Ready"
            deployment.__dict__["bluegreen_ready_since"] = utcnow()
            return
    _allow_traffic(account, region, deployment)
    _end_deployment(deployment, "Succeeded", None, rollback=False)
    deployment.deployment_group.__dict__["bluegreen_last_successful"] = deployment


@patch
def codedeploy_ecs_deployments_run() -> None:
    """GetDeployment advances an ECS deployment; GetDeployment shows errorInformation and rollbackInfo.

    moto records a deployment, revision included (so its AppSpec content reads back
    with GetDeployment), and leaves it "Created" for ever: deploy/execute.sh waits
    for its deployment to end and would wait until its timeout. With the patch each
    GetDeployment of an ECS deployment moves it one step, doing in a few polls what
    CodeDeploy does in minutes (_advance_deployment):
    - Created -> InProgress;
    - then Stopped (ALARM_ACTIVE) when an alarm of the group's enabled alarm
      configuration is in ALARM (SetAlarmState: the release's 5xx alarm firing),
      also while green waits for approval;
    - or Failed (INVALID_REVISION) when the AppSpec's task definition does not
      exist or lacks the AppSpec's container and port, as CodeDeploy checks;
    - or Failed (INVALID_REVISION) when that task definition is INACTIVE;
    - else green is installed: a replacement task set per service with the AppSpec's
      task definition, network configuration, capacity provider strategy and platform
      version (DescribeTaskSets) behind the other target group of the pair, which the
      test listener now forwards to;
    - in a group whose deploymentReadyOption is STOP_DEPLOYMENT, the deployment then
      waits in Ready, production traffic on blue, until ContinueDeployment
      (codedeploy_continue_deployment) or StopDeployment, and is Stopped (TIMEOUT)
      once waitTimeInMinutes have passed since it became Ready;
    - then Succeeded: the production listener forwards to green too, and each
      replacement task set is its service's one task set, PRIMARY.
    A deployment stopped after Install loses its replacement task sets and the test
    listener forwards to blue again. A stop or failure is rolled back (rollbackInfo)
    when the group's autoRollbackConfiguration names the event. Production traffic
    moves only when a deployment succeeds, so a rollback leaves it where it was;
    unlike CodeDeploy, no separate rollback deployment is created.
    """
    from moto.codedeploy import responses
    from moto.codedeploy.responses import CodeDeployResponse

    original = CodeDeployResponse.get_deployment
    if getattr(original, "bluegreen_patched", False):
        return
    original_info = responses._deployment_info

    def get_deployment(self: CodeDeployResponse) -> Any:
        deployment = self.codedeploy_backend.deployments.get(self._get_param("deploymentId"))
        if deployment is not None and deployment.application.compute_platform == "ECS":
            with _deployment_lock:
                _advance_deployment(self.current_account, self.region, deployment)
        return original(self)

    def deployment_info(deployment: Any) -> dict[str, Any]:
        info = original_info(deployment)
        info["errorInformation"] = deployment.__dict__.get("bluegreen_error", info["errorInformation"])
        info["rollbackInfo"] = deployment.__dict__.get("bluegreen_rollback", info["rollbackInfo"])
        return info

    get_deployment.bluegreen_patched = True  # type: ignore[attr-defined]
    CodeDeployResponse.get_deployment = get_deployment
    responses._deployment_info = deployment_info


@patch
def codedeploy_stop_deployment() -> None:
    """StopDeployment: an active deployment becomes Stopped (MANUAL_STOP), rolled back when asked.

    moto has no StopDeployment: `execute.sh rollback` stops a running deployment
    with `aws deploy stop-deployment --auto-rollback-enabled` and got a 500 "not
    implemented". A deployment that has ended cannot be stopped, as in CodeDeploy.
    """
    from moto.codedeploy.responses import CodeDeployResponse
    from moto.core.exceptions import JsonRESTError

    def stop_deployment(self: CodeDeployResponse) -> str:
        deployment = self.codedeploy_backend.get_deployment(self._get_param("deploymentId"))
        with _deployment_lock:
            if deployment.status not in _ACTIVE_DEPLOYMENT:
                raise JsonRESTError(
                    "DeploymentAlreadyCompletedException",
                    f"The deployment {deployment.deployment_id} has already completed.",
                )
            rollback = bool(self._get_param("autoRollbackEnabled"))
            error = ("MANUAL_STOP", "The deployment was stopped by the user.")
            _stop(self.current_account, self.region, deployment, error, rollback)
        return _json({"status": "Succeeded", "statusMessage": "The deployment is stopped."})

    _add(CodeDeployResponse, "stop_deployment", stop_deployment)


@patch
def codedeploy_continue_deployment() -> None:
    """ContinueDeployment: a deployment waiting in Ready moves production traffic to green.

    moto has no ContinueDeployment, and never held a deployment for approval, so the
    approval step of a group with a wait (`deploy/execute.sh approve`) could not run.
    As in CodeDeploy (ContinueDeployment, CodeDeploy API Reference): READY_WAIT (the
    default) continues a deployment whose status is Ready; one still on its way there
    answers DeploymentIsNotInReadyStateException, one that has ended
    DeploymentAlreadyCompletedException. TERMINATION_WAIT ends the wait for blue's
    termination, which the emulator does not model: a deployment is over once traffic
    moved, so that answers DeploymentAlreadyCompletedException for a finished one.
    """
    from moto.codedeploy.responses import CodeDeployResponse
    from moto.core.exceptions import JsonRESTError

    def continue_deployment(self: CodeDeployResponse) -> str:
        deployment = self.codedeploy_backend.get_deployment(self._get_param("deploymentId"))
        wait_type = self._get_param("deploymentWaitType") or "READY_WAIT"
        if wait_type not in ("READY_WAIT", "TERMINATION_WAIT"):
            raise JsonRESTError(
                "InvalidDeploymentWaitTypeException", f"The wait type {wait_type} is invalid."
            )
        with _deployment_lock:
            if deployment.status not in _ACTIVE_DEPLOYMENT:
                raise JsonRESTError(
                    "DeploymentAlreadyCompletedException",
                    f"The deployment {deployment.deployment_id} has already completed.",
                )
            if wait_type == "TERMINATION_WAIT" or deployment.status != "Ready":
                raise JsonRESTError(
                    "DeploymentIsNotInReadyStateException",
                    f"The deployment {deployment.deployment_id} does not have a status of Ready "
                    "and can't continue yet.",
                )
            deployment.status = "InProgress"
        return "{}"

    _add(CodeDeployResponse, "continue_deployment", continue_deployment)


@patch
def codedeploy_last_deployments() -> None:
    """GetDeploymentGroup fills in lastAttemptedDeployment and lastSuccessfulDeployment.

    moto answers `{}` for both (left unimplemented in moto). `execute.sh status` and `rollback`
    find the group's latest deployment in lastAttemptedDeployment, the documented
    place (ListDeployments promises no order). CreateDeployment records the
    attempt; a deployment that succeeds (codedeploy_ecs_deployments_run) records success.
    """
    from moto.codedeploy import responses
    from moto.codedeploy.responses import CodeDeployResponse

    original_create = CodeDeployResponse.create_deployment
    if getattr(original_create, "bluegreen_patched", False):
        return
    original_info = responses._deployment_group_info

    def create_deployment(self: CodeDeployResponse) -> Any:
        result = original_create(self)
        deployment = self.codedeploy_backend.deployments[result.result["deploymentId"]]
        deployment.deployment_group.__dict__["bluegreen_last_attempted"] = deployment
        return result

    def summary(deployment: Any) -> dict[str, Any]:
        if deployment is None:
            return {}
        return {
            "deploymentId": deployment.deployment_id,
            "status": deployment.status,
            "createTime": deployment.create_time,
            "endTime": deployment.complete_time,
        }

    def deployment_group_info(deployment_group: Any) -> dict[str, Any]:
        info = original_info(deployment_group)
        for key, attribute in (
            ("lastAttemptedDeployment", "bluegreen_last_attempted"),
            ("lastSuccessfulDeployment", "bluegreen_last_successful"),
        ):
            if info.get(key) == {}:
                info[key] = summary(deployment_group.__dict__.get(attribute))
        return info

    create_deployment.bluegreen_patched = True  # type: ignore[attr-defined]
    CodeDeployResponse.create_deployment = create_deployment
    responses._deployment_group_info = deployment_group_info


# The lifecycle events of an ECS deployment, in order ("AppSpec 'hooks' section for an
# Amazon ECS deployment", CodeDeploy User Guide); the hook ones run only when the AppSpec names a function.
_ECS_EVENTS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
_ECS_ACTIONS = ("Install", "AllowTestTraffic", "AllowTraffic")


def _lifecycle_events(deployment: Any) -> list[dict[str, Any]]:
    """Each event's status from where the emulated deployment is: all Pending before it starts;
    Install InProgress while it runs; everything done once it succeeded; after a stop or
    failure the new task set was installed and nothing after it ran."""
    import yaml

    try:
        appspec = yaml.safe_load(deployment.revision["appSpecContent"]["content"]) or {}
        hooks = {name for hook in appspec.get("Hooks") or [] for name in hook}
    except (KeyError, TypeError, AttributeError, yaml.YAMLError):
        hooks = set()
    status = deployment.status
    events = []
    for name in _ECS_EVENTS:
        runs = name in _ECS_ACTIONS or name in hooks
        if status in {"Created", "Queued"}:
            state = "Pending"
        elif status == "Ready":
            # Green installed and on the test listener; production traffic waits.
            done = _ECS_EVENTS.index(name) <= _ECS_EVENTS.index("AfterAllowTestTraffic")
            state = ("Succeeded" if done else "Pending") if runs else "Skipped"
        elif status == "InProgress":
            state = "InProgress" if name == "Install" else ("Pending" if runs else "Skipped")
            if _ECS_EVENTS.index(name) < _ECS_EVENTS.index("Install"):
                state = "Succeeded" if runs else "Skipped"
        elif status == "Succeeded":
            state = "Succeeded" if runs else "Skipped"
        elif name == "Install":
            state = "Succeeded" if status == "Stopped" else "Failed"
        elif _ECS_EVENTS.index(name) < _ECS_EVENTS.index("Install"):
            state = "Succeeded" if runs else "Skipped"
        else:
            state = "Skipped"
        events.append({"lifecycleEventName": name, "status": state})
    return events


@patch
def codedeploy_deployment_targets() -> None:
    """ListDeploymentTargets and GetDeploymentTarget for ECS deployments.

    moto has neither. An ECS deployment has one target per service of its group, named
    CLUSTER:SERVICE, whose lifecycleEvents are the steps `deploy/execute.sh` prints
    after a deployment (_lifecycle_events: a coarse record of the emulated run, which
    takes no real time).
    """
    from moto.codedeploy.responses import CodeDeployResponse
    from moto.core.exceptions import JsonRESTError

    def targets(deployment: Any) -> list[str]:
        services = deployment.deployment_group.ecs_services or []
        return [f"{ref['clusterName']}:{ref['serviceName']}" for ref in services]

    def list_deployment_targets(self: CodeDeployResponse) -> str:
        deployment = self.codedeploy_backend.get_deployment(self._get_param("deploymentId"))
        return _json({"targetIds": targets(deployment)})

    def get_deployment_target(self: CodeDeployResponse) -> str:
        deployment = self.codedeploy_backend.get_deployment(self._get_param("deploymentId"))
        target = self._get_param("targetId")
        if target not in targets(deployment):
            raise JsonRESTError(
                "DeploymentTargetDoesNotExistException", f"The target {target} does not exist."
            )
        status = {"Created": "Pending", "Queued": "Pending", "Stopped": "Failed"}.get(
            deployment.status, deployment.status
        )
        ecs_target = {
            "deploymentId": deployment.deployment_id,
            "targetId": target,
            "status": status,
            "lifecycleEvents": _lifecycle_events(deployment),
        }
        return _json({"deploymentTarget": {"deploymentTargetType": "ECSTarget", "ecsTarget": ecs_target}})

    _add(CodeDeployResponse, "list_deployment_targets", list_deployment_targets)
    _add(CodeDeployResponse, "get_deployment_target", get_deployment_target)


# --- ECR ---------------------------------------------------------------------------------


@patch
def ecr_image_digest() -> None:
    """An image's digest is the SHA-256 of its manifest.

    moto hashes the concatenated layer digests instead (and a random number for a
    manifest without layers), so two different images with the same layers share a
    digest and the same manifest pushed to two repositories may not. A registry
    names a manifest by the SHA-256 of its bytes ("Content Digests", OCI
    Distribution Specification; ECR's imageDigest): deploy/execute.sh deploys by
    digest and checks that promotion kept it.
    """
    import hashlib

    from moto.ecr.models import Image

    original = Image._create_digest
    if getattr(original, "bluegreen_patched", False):
        return

    def create_digest(self: Any) -> None:
        self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode("utf-8")).hexdigest()

    create_digest.bluegreen_patched = True  # type: ignore[attr-defined]
    Image._create_digest = create_digest


# --- Application Auto Scaling ------------------------------------------------------------


@patch
def applicationautoscaling_tags() -> None:
    """Tags of scalable targets: RegisterScalableTarget's Tags, ListTagsForResource, Tag/UntagResource.

    moto drops the Tags of RegisterScalableTarget and has no tagging API for
    Application Auto Scaling. The provider lists the tags of every
    `aws_appautoscaling_target` right after creating it (default_tags make every
    resource tagged), gets a 500 "not implemented", and retries until it times out.
    """
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    def tags_of(self: ApplicationAutoScalingResponse) -> dict[str, dict[str, str]]:
        return self.applicationautoscaling_backend.__dict__.setdefault("bluegreen_tags", {})

    original_register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
        body = original_register(self)
        tags = self._get_param("Tags")
        if tags:
            import json

            arn = json.loads(body)["ScalableTargetARN"]
            tags_of(self).setdefault(arn, {}).update(tags)
        return body

    def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
        return _json({"Tags": tags_of(self).get(self._get_param("ResourceARN"), {})})

    def tag_resource(self: ApplicationAutoScalingResponse) -> str:
        tags_of(self).setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: ApplicationAutoScalingResponse) -> str:
        tags = tags_of(self).get(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            tags.pop(key, None)
        return "{}"

    if "list_tags_for_resource" not in vars(ApplicationAutoScalingResponse):
        ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target
    _add(ApplicationAutoScalingResponse, "list_tags_for_resource", list_tags_for_resource)
    _add(ApplicationAutoScalingResponse, "tag_resource", tag_resource)
    _add(ApplicationAutoScalingResponse, "untag_resource", untag_resource)


# --- ECS ---------------------------------------------------------------------------------


@patch
def ecs_service_fields() -> None:
    """CreateService keeps capacityProviderStrategy, healthCheckGracePeriodSeconds,
    enableECSManagedTags and availabilityZoneRebalancing, and has no launch type
    when a capacity provider strategy is given.

    moto drops these four request fields and sets launchType EC2 on every service
    that names none. Reading the service back, the provider sees a service with
    another launch type and no capacity provider strategy (which forces
    replacement), no grace period and no managed tags: every plan after apply
    wants to replace the ECS service.
    """
    from moto.ecs.responses import EC2ContainerServiceResponse

    original = EC2ContainerServiceResponse.create_service
    if getattr(original, "bluegreen_patched", False):
        return
    kept = {
        "capacityProviderStrategy": "capacity_provider_strategy",
        "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
        "enableECSManagedTags": "enable_ecs_managed_tags",
        "availabilityZoneRebalancing": "availability_zone_rebalancing",
    }

    def create_service(self: EC2ContainerServiceResponse) -> Any:
        result = original(self)
        service = result.result["service"]
        for param, attribute in kept.items():
            value = self._get_param(param)
            if value is not None and getattr(service, attribute, None) is None:
                setattr(service, attribute, value)
        if self._get_param("capacityProviderStrategy") and not self._get_param("launchType"):
            service.launch_type = None
            for deployment in service.deployments:
                deployment["launchType"] = None
        return result

    create_service.bluegreen_patched = True  # type: ignore[attr-defined]
    EC2ContainerServiceResponse.create_service = create_service


# --- EC2 ---------------------------------------------------------------------------------


@patch
def ec2_rule_description_of_group_references() -> None:
    """DescribeSecurityGroupRules returns the description of rules that reference a security group.

    moto reads a rule's description only from its CIDR range, so a rule whose
    source is another security group (`aws_vpc_security_group_ingress_rule` with
    `referenced_security_group_id`: load balancer to tasks) comes back without the
    description it was created with, and every later plan wants to set it again.
    """
    from moto.ec2.models.security_groups import SecurityGroupRule

    if getattr(SecurityGroupRule.description.fget, "bluegreen_patched", False):
        return

    def description(self: Any) -> str | None:
        return self.ip_range.get("Description") or self.source_group.get("Description")

    description.bluegreen_patched = True  # type: ignore[attr-defined]
    SecurityGroupRule.description = property(description)


_vpc_id_lock = threading.Lock()


@patch
def ec2_vpc_custom_id() -> None:
    """CreateVpc honours moto's `_custom_id_` tag, as moto already does for other resources.

    A spec may name its VPC by id (`network.vpc_id: vpc-0a1b...`); the generated
    Terraform then looks that id up. moto always draws VPC ids at random, so the
    test could not seed the VPC the spec names. moto's own convention for chosen
    ids (a `_custom_id_` tag, see moto/utilities/id_generator.py) is extended to
    VPCs; without the tag nothing changes.
    """
    from moto.ec2.models import vpcs

    original = vpcs.VPCBackend.create_vpc
    if getattr(original, "bluegreen_patched", False):
        return

    def create_vpc(self: Any, *args: Any, **kwargs: Any) -> Any:
        tags = kwargs.get("tags") or []
        custom = next((t["Value"] for t in tags if t.get("Key") == "_custom_id_"), None)
        if not custom or custom in self.vpcs:
            return original(self, *args, **kwargs)
        kwargs["tags"] = [t for t in tags if t.get("Key") != "_custom_id_"]
        with _vpc_id_lock:
            random_vpc_id = vpcs.random_vpc_id
            vpcs.random_vpc_id = lambda: custom
            try:
                return original(self, *args, **kwargs)
            finally:
                vpcs.random_vpc_id = random_vpc_id

    create_vpc.bluegreen_patched = True  # type: ignore[attr-defined]
    vpcs.VPCBackend.create_vpc = create_vpc


# --- running -----------------------------------------------------------------------------


def _json(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data)


def apply_patches() -> None:
    for function in PATCHES:
        function()


def _log_actions() -> None:
    """Print service and operation of each request (X-Amz-Target or credential scope), for debugging."""
    import moto.server

    dispatcher = moto.server.DomainDispatcherApplication

    class Logging(dispatcher):  # type: ignore[misc, valid-type]
        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1].split("/")
            service = scope[3] if len(scope) > 3 else "?"
            target = environ.get("HTTP_X_AMZ_TARGET", environ.get("PATH_INFO", ""))
            print(f"bluegreen-action {service} {environ.get('REQUEST_METHOD')} {target}", flush=True)
            return super().__call__(environ, start_response)

    moto.server.DomainDispatcherApplication = Logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--log-actions", action="store_true", help="print each request's operation")
    args = parser.parse_args(argv)
    apply_patches()
    record = os.environ.get(recorder.RECORD_ENV)
    if record:
        recorder.install(record)
    if args.log_actions:
        _log_actions()
    import moto.server

    moto.server.main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    sys.exit(main())
