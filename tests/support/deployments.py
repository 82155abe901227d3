"""CodeDeploy deployments made behind execute.sh's back: another pipeline's, an operator's hotfix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def appspec(task_definition: str, container: str, port: int) -> str:
    """The AppSpec of an ECS deployment of `task_definition`, the load balancer on `container`:`port`."""
    target = {
        "Type": "AWS::ECS::Service",
        "Properties": {
            "TaskDefinition": task_definition,
            "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port},
        },
    }
    return json.dumps({"version": 0.0, "Resources": [{"TargetService": target}]})


def create(
    codedeploy: Any, names: Mapping[str, str], task_definition: str, port: int, description: str | None = None
) -> str:
    """A deployment of `task_definition` in the environment of `names` (Environment.names); its id."""
    return codedeploy.create_deployment(
        applicationName=names["codedeploy_app"],
        deploymentGroupName=names["deployment_group"],
        **({"description": description} if description else {}),
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": appspec(task_definition, names["container"], port)},
        },
    )["deploymentId"]
