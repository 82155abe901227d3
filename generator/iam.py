"""The deploy role of one environment: its permissions, its trust, and the boundary of the roles it makes.

The permissions are a table (GRANTS): each grant names the Terraform module or the
deploy/execute.sh command it serves, the exact actions, and the resources, scoped to
the environment's own names wherever AWS offers a resource-level permission. A grant
on `"*"` says why (`any_resource`): AWS has no resource type for those actions (the
Service Authorization Reference lists none), or the resource's name is made up by AWS
and a condition key narrows it instead. A module change points here at its permissions.

Tests (tests/test_iam_lifecycle.py) run the whole lifecycle against the emulator, record
every request (bluegreen.emulator.recorder) and evaluate it against these documents
(bluegreen.emulator.evaluator): nothing denied, nothing granted that no step uses.

The documents are split into managed policies under IAM's 6,144-character limit
(whitespace not counted: IAM User Guide, "IAM and AWS STS quotas"); the README shows
them, `bluegreen policy` prints them, and the bootstrap root creates them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import Environment, ServiceModel, partition

ACCOUNT = "ACCOUNT_ID"  # placeholder where the spec pins no account: the bootstrap root fills it in
MANAGED_POLICY_LIMIT = 6144  # characters, whitespace not counted
# A role may have 10 managed policies attached by default (IAM quotas).
MAX_MANAGED_POLICIES = 10
# The audience of the GitLab ID token the pipeline asks for (.gitlab-ci.yml, id_tokens).
GITLAB_AUDIENCE = "sts.amazonaws.com"

Condition = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Grant:
    """One statement of the deploy role's policy and what it serves."""

    sid: str
    serves: tuple[str, ...]  # "module.fargate", "execute.sh deploy", ...
    actions: tuple[str, ...]
    resources: Callable[[Names], list[str]]
    condition: Callable[[Names], Condition] | None = None
    any_resource: str = ""  # why "*": required when resources are ["*"]
    when: Callable[[Environment], bool] = lambda env: True


@dataclass(frozen=True)
class Names:
    """What the grants are scoped with, for one environment."""

    service: str
    env: Environment
    account: str

    @property
    def region(self) -> str:
        return self.env.region

    @property
    def prefix(self) -> str:
        return self.env.names["prefix"]

    @property
    def partition(self) -> str:
        return partition(self.region)

    def n(self, key: str) -> str:
        return self.env.names[key]

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if regional else ''}:{self.account}:{resource}"

    def global_arn(self, service: str, resource: str) -> str:
        """An ARN without region or account (S3 buckets and objects, Route 53 zones and changes)."""
        return f"arn:{self.partition}:{service}:::{resource}"

    @property
    def boundary_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:policy/{boundary_name(self.env)}"

    def tagged(self, key: str = "aws:ResourceTag") -> Condition:
        return {"StringEquals": {f"{key}/Service": self.service, f"{key}/Environment": self.env.name}}


def _region_only(names: Names) -> Condition:
    return {"StringEquals": {"aws:RequestedRegion": names.region}}


def _any(_: Names) -> list[str]:
    return ["*"]


def _merge(*conditions: Condition) -> Condition:
    merged: Condition = {}
    for condition in conditions:
        for operator, pairs in condition.items():
            merged.setdefault(operator, {}).update(pairs)
    return merged


def _vpc(names: Names) -> list[str]:
    vpc = names.env.vpc_id or "*"
    return [names.arn("ec2", f"vpc/{vpc}")]


def _vpc_condition(names: Names) -> Condition | None:
    if names.env.vpc_id:
        return _region_only(names)
    # The VPC is looked up by its tag key: only a VPC carrying that key may get the groups.
    return _merge(_region_only(names), {"Null": {f"aws:ResourceTag/{names.env.vpc_tag_key}": "false"}})


# Where a grant is scoped by the Service and Environment tags, a later tag change may
# not touch those two: the role could otherwise take a resource out of its scope (or
# bring another in). aws:TagKeys is the set of keys a tagging request names (IAM User
# Guide, "Controlling access to AWS resources using tags").
_KEEPS_SCOPING_TAGS: Condition = {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["Environment", "Service"]}}

_HAS_DNS: Callable[[Environment], bool] = lambda env: env.dns is not None  # noqa: E731
_HAS_HTTPS: Callable[[Environment], bool] = lambda env: env.https  # noqa: E731
_HAS_STATE: Callable[[Environment], bool] = lambda env: env.state is not None  # noqa: E731

SERVICE_LINKED_ROLES = {
    # AWS service name: role it creates at first use (IAM User Guide, "Using service-linked roles").
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService",
}

# Workspaces are listed under the S3 backend's workspace_key_prefix ("env:", which
# backend.tf leaves as it is) and a slash: the only listing Terraform makes (Terraform
# S3 backend, Workspaces). The other keys of a shared bucket stay unlisted.
WORKSPACE_LISTING_PREFIX = "env:/"

# The state grants: the deploy role's identity policy carries them (GRANTS), and where
# the state bucket is in another account the bucket's policy carries the same ones
# for that role (state_bucket_statements), since cross-account access needs both.
STATE_GRANTS: tuple[Grant, ...] = (
    Grant(
        "TerraformStateObject",
        ("backend.tf",),
        ("s3:GetObject", "s3:PutObject"),
        lambda names: [names.global_arn("s3", f"{names.env.state.bucket}/{names.env.state.key}")],  # type: ignore[union-attr]
        when=_HAS_STATE,
    ),
    Grant(
        "TerraformStateBucket",
        ("backend.tf",),
        ("s3:ListBucket",),
        lambda names: [names.global_arn("s3", names.env.state.bucket)],  # type: ignore[union-attr]
        lambda names: {"StringEquals": {"s3:prefix": WORKSPACE_LISTING_PREFIX}},
        when=_HAS_STATE,
    ),
    Grant(
        "TerraformStateLockFile",
        ("backend.tf",),
        # use_lockfile: the S3 backend writes KEY.tflock beside the state and deletes it
        # after the run (Terraform docs, "Backend Type: s3", S3 Bucket Permissions).
        ("s3:DeleteObject", "s3:GetObject", "s3:PutObject"),
        lambda names: [names.global_arn("s3", f"{names.env.state.bucket}/{names.env.state.key}.tflock")],  # type: ignore[union-attr]
        when=_HAS_STATE,
    ),
)

GRANTS: tuple[Grant, ...] = (
    # --- reads AWS does not scope to a resource -------------------------------------------
    Grant(
        "DescribeNetworkAnyResource",
        ("data.aws_vpc", "data.aws_subnets", "module.alb", "module.fargate"),
        (
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeRouteTables",
            "ec2:DescribeSecurityGroupRules",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcAttribute",
            "ec2:DescribeVpcs",
        ),
        _any,
        _region_only,
        any_resource="EC2 Describe calls have no resource-level permissions",
    ),
    Grant(
        "DescribeLoadBalancingAnyResource",
        ("module.alb", "module.target_groups", "execute.sh status"),
        (
            "elasticloadbalancing:DescribeCapacityReservation",
            "elasticloadbalancing:DescribeListenerAttributes",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetGroups",
        ),
        _any,
        _region_only,
        any_resource="Elastic Load Balancing Describe calls have no resource-level permissions",
    ),
    Grant(
        "TaskDefinitionRevisionsAnyResource",
        ("module.fargate", "execute.sh deploy"),
        # No DeregisterTaskDefinition: Terraform keeps old revisions (skip_destroy) for rollback.
        ("ecs:DescribeTaskDefinition",),
        _any,
        _region_only,
        any_resource="DescribeTaskDefinition has no resource-level permissions",
    ),
    Grant(
        "DescribeLogsAndScalingAnyResource",
        ("module.fargate", "module.scaling"),
        (
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DescribeScalingPolicies",
            "logs:DescribeLogGroups",
        ),
        _any,
        _region_only,
        any_resource="these Describe calls have no resource-level permissions",
    ),
    Grant(
        "RegistryLoginAnyResource",
        ("execute.sh dockerize",),
        ("ecr:GetAuthorizationToken",),
        _any,
        _region_only,
        any_resource="GetAuthorizationToken is not tied to a repository",
    ),
    Grant(
        "StopDeploymentsAnyResource",
        ("execute.sh rollback", "execute.sh deploy"),
        ("codedeploy:StopDeployment",),
        _any,
        _region_only,
        any_resource="StopDeployment has no resource-level permissions",
    ),
    Grant(
        "ApproveDeploymentsAnyResource",
        ("execute.sh approve",),
        ("codedeploy:ContinueDeployment",),
        _any,
        _region_only,
        any_resource="ContinueDeployment has no resource-level permissions",
        when=lambda env: env.approval_timeout_minutes > 0,
    ),
    Grant(
        "DeploymentStepsAnyResource",
        ("execute.sh deploy",),
        ("codedeploy:GetDeploymentTarget", "codedeploy:ListDeploymentTargets"),
        _any,
        _region_only,
        any_resource="ListDeploymentTargets and GetDeploymentTarget have no resource-level permissions",
    ),
    # --- network: security groups, created tagged, changed only while tagged ----------------
    Grant(
        "CreateSecurityGroupsTaggedForTheService",
        ("module.alb", "module.fargate"),
        ("ec2:CreateSecurityGroup",),
        lambda names: [names.arn("ec2", "security-group/*")],
        lambda names: _merge(_region_only(names), names.tagged("aws:RequestTag")),
    ),
    Grant(
        "CreateSecurityGroupsInTheVpc",
        ("module.alb", "module.fargate"),
        ("ec2:CreateSecurityGroup",),
        _vpc,
        _vpc_condition,
    ),
    Grant(
        "TagOnCreateOfSecurityGroupsAndRules",
        ("module.alb", "module.fargate"),
        ("ec2:CreateTags",),
        lambda names: [names.arn("ec2", "security-group/*"), names.arn("ec2", "security-group-rule/*")],
        lambda names: _merge(
            names.tagged("aws:RequestTag"),
            {
                "StringEquals": {
                    "ec2:CreateAction": [
                        "AuthorizeSecurityGroupEgress",
                        "AuthorizeSecurityGroupIngress",
                        "CreateSecurityGroup",
                    ]
                }
            },
        ),
    ),
    Grant(
        "RulesCreatedTaggedForTheService",
        ("module.alb", "module.fargate"),
        ("ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress"),
        lambda names: [names.arn("ec2", "security-group-rule/*")],
        lambda names: names.tagged("aws:RequestTag"),
    ),
    Grant(
        "RetagSecurityGroupsAndRulesOfTheService",
        ("module.alb", "module.fargate"),
        # A tags: or owner edit of service.yaml: the provider tags and untags what exists.
        ("ec2:CreateTags", "ec2:DeleteTags"),
        lambda names: [names.arn("ec2", "security-group/*"), names.arn("ec2", "security-group-rule/*")],
        lambda names: _merge(names.tagged(), _KEEPS_SCOPING_TAGS),
    ),
    Grant(
        "ChangeRulesOfTheService",
        ("module.alb", "module.fargate"),
        # A rule whose ports change (deployment.test_listener_port, app.port) is changed in place.
        ("ec2:ModifySecurityGroupRules",),
        lambda names: [names.arn("ec2", "security-group/*"), names.arn("ec2", "security-group-rule/*")],
        lambda names: names.tagged(),
    ),
    Grant(
        "SecurityGroupsOfTheService",
        ("module.alb", "module.fargate"),
        (
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:DeleteSecurityGroup",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
        ),
        lambda names: [names.arn("ec2", "security-group/*")],
        lambda names: names.tagged(),
    ),
    # --- load balancer and target groups, by name ------------------------------------------
    Grant(
        "LoadBalancerListenersAndTargetGroups",
        ("module.alb", "module.target_groups"),
        (
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyListener",  # a new certificate or alb.ssl_policy
            "elasticloadbalancing:ModifyLoadBalancerAttributes",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes",
            "elasticloadbalancing:RemoveTags",  # a tag or owner taken out of service.yaml
        ),
        lambda names: [
            names.arn("elasticloadbalancing", f"loadbalancer/app/{names.n('alb')}/*"),
            names.arn("elasticloadbalancing", f"listener/app/{names.n('alb')}/*"),
            names.arn("elasticloadbalancing", f"targetgroup/{names.n('target_group_blue')}/*"),
            names.arn("elasticloadbalancing", f"targetgroup/{names.n('target_group_green')}/*"),
        ],
    ),
    # --- ECS ---------------------------------------------------------------------------------
    Grant(
        "ClusterServiceAndTaskDefinitions",
        ("module.fargate", "execute.sh deploy", "execute.sh rollback", "execute.sh status"),
        (
            "ecs:CreateCluster",
            "ecs:CreateService",
            "ecs:DeleteCluster",
            "ecs:DeleteService",
            "ecs:DescribeClusters",
            "ecs:DescribeServices",
            "ecs:ListTagsForResource",  # read back after a tags: or owner edit
            "ecs:PutClusterCapacityProviders",
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
            "ecs:UntagResource",
            "ecs:UpdateService",
        ),
        lambda names: [
            names.arn("ecs", f"cluster/{names.n('cluster')}"),
            names.arn("ecs", f"service/{names.n('cluster')}/{names.n('service')}"),
            names.arn("ecs", f"task-definition/{names.n('task_family')}:*"),
        ],
    ),
    Grant(
        "ContainerLogs",
        ("module.fargate",),
        (
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:ListTagsForResource",
            "logs:PutRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
        ),
        lambda names: [
            names.arn("logs", f"log-group:{names.n('log_group')}"),
            names.arn("logs", f"log-group:{names.n('log_group')}:*"),
        ],
    ),
    # --- IAM: the stack's roles, only with the boundary ------------------------------------
    Grant(
        "RolesOfTheServiceOnlyWithTheBoundary",
        ("module.fargate", "module.codedeploy"),
        ("iam:CreateRole", "iam:DeleteRolePolicy", "iam:PutRolePolicy"),
        lambda names: [names.arn("iam", f"role/{names.prefix}-*", regional=False)],
        lambda names: {"StringEquals": {"iam:PermissionsBoundary": names.boundary_arn}},
    ),
    Grant(
        "ReadTagAndDeleteRolesOfTheService",
        ("module.fargate", "module.codedeploy"),
        (
            "iam:DeleteRole",
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
            "iam:ListRolePolicies",
            "iam:TagRole",
            "iam:UntagRole",
        ),
        lambda names: [names.arn("iam", f"role/{names.prefix}-*", regional=False)],
    ),
    Grant(
        "PassRolesOfTheServiceToEcsAndCodeDeploy",
        ("module.fargate", "module.codedeploy", "execute.sh deploy"),
        ("iam:PassRole",),
        lambda names: [names.arn("iam", f"role/{names.prefix}-*", regional=False)],
        lambda names: {
            "StringEquals": {"iam:PassedToService": ["codedeploy.amazonaws.com", "ecs-tasks.amazonaws.com"]}
        },
    ),
    Grant(
        "ServiceLinkedRolesAtFirstUse",
        ("module.alb", "module.fargate", "module.scaling"),
        ("iam:CreateServiceLinkedRole",),
        lambda names: [
            names.arn("iam", f"role/aws-service-role/{service}/{role}", regional=False)
            for service, role in sorted(SERVICE_LINKED_ROLES.items())
        ],
        lambda names: {"StringEquals": {"iam:AWSServiceName": sorted(SERVICE_LINKED_ROLES)}},
    ),
    # --- image repository ------------------------------------------------------------------
    Grant(
        "ImageRepository",
        ("module.ecr", "execute.sh dockerize", "execute.sh deploy", "execute.sh destroy"),
        (
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchDeleteImage",
            "ecr:BatchGetImage",
            "ecr:CompleteLayerUpload",
            "ecr:CreateRepository",
            "ecr:DeleteLifecyclePolicy",
            "ecr:DeleteRepository",
            "ecr:DescribeImages",
            "ecr:DescribeRepositories",
            "ecr:GetDownloadUrlForLayer",
            "ecr:GetLifecyclePolicy",
            "ecr:InitiateLayerUpload",
            "ecr:ListImages",
            "ecr:ListTagsForResource",
            "ecr:PutImage",
            "ecr:PutLifecyclePolicy",
            "ecr:TagResource",
            "ecr:UntagResource",
            "ecr:UploadLayerPart",
        ),
        lambda names: [names.arn("ecr", f"repository/{names.n('ecr_repository')}")],
    ),
    Grant(
        "PromoteFromThePreviousEnvironment",
        ("execute.sh promote",),
        # docker pull of the image the previous environment deployed (by digest). A repository
        # in another account must also allow this role in its repository policy.
        ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
        lambda names: [
            f"arn:{partition(source.region)}:ecr:{source.region}:{source.account_id or names.account}:"
            f"repository/{source.repository}"
            for source in [names.env.promote_from]
            if source is not None
        ],
        when=lambda env: env.promote_from is not None,
    ),
    # --- scaling -----------------------------------------------------------------------------
    Grant(
        "ScalingOfTheServiceDesiredCountAnyResource",
        ("module.scaling",),
        (
            "application-autoscaling:DeleteScalingPolicy",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:RegisterScalableTarget",
        ),
        _any,
        lambda names: _merge(
            _region_only(names),
            {
                "StringEquals": {
                    "application-autoscaling:scalable-dimension": "ecs:service:DesiredCount",
                    "application-autoscaling:service-namespace": "ecs",
                }
            },
        ),
        any_resource="scalable targets have ids AWS makes up; namespace and dimension keys scope them",
    ),
    Grant(
        "TagsOfScalableTargets",
        ("module.scaling",),
        (
            "application-autoscaling:ListTagsForResource",
            "application-autoscaling:TagResource",
            "application-autoscaling:UntagResource",
        ),
        lambda names: [names.arn("application-autoscaling", "scalable-target/*")],
    ),
    # --- deployments -------------------------------------------------------------------------
    Grant(
        "DeploymentAlarms",
        ("module.codedeploy",),
        (
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:ListTagsForResource",
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
        ),
        lambda names: [names.arn("cloudwatch", f"alarm:{names.prefix}-*")],
        when=lambda env: env.alarm_http_5xx_percent is not None or env.alarm_p99_latency_ms is not None,
    ),
    Grant(
        "CodeDeployApplicationAndGroup",
        ("module.codedeploy",),
        (
            "codedeploy:CreateApplication",
            "codedeploy:CreateDeploymentGroup",
            "codedeploy:DeleteApplication",
            "codedeploy:DeleteDeploymentGroup",
            "codedeploy:GetApplication",
            "codedeploy:ListTagsForResource",
            "codedeploy:TagResource",
            "codedeploy:UntagResource",
            "codedeploy:UpdateDeploymentGroup",
        ),
        lambda names: [
            names.arn("codedeploy", f"application:{names.n('codedeploy_app')}"),
            names.arn(
                "codedeploy", f"deploymentgroup:{names.n('codedeploy_app')}/{names.n('deployment_group')}"
            ),
        ],
    ),
    Grant(
        "DeploymentsOfTheGroup",
        ("module.codedeploy", "execute.sh deploy", "execute.sh rollback", "execute.sh status"),
        (
            "codedeploy:CreateDeployment",
            "codedeploy:GetApplicationRevision",
            "codedeploy:GetDeployment",
            "codedeploy:GetDeploymentConfig",
            "codedeploy:GetDeploymentGroup",
            "codedeploy:ListDeployments",
        ),
        lambda names: [
            names.arn("codedeploy", f"application:{names.n('codedeploy_app')}"),
            names.arn(
                "codedeploy", f"deploymentgroup:{names.n('codedeploy_app')}/{names.n('deployment_group')}"
            ),
            names.arn("codedeploy", f"deploymentconfig:{names.env.deployment_config_name}"),
        ],
    ),
    Grant(
        "TrafficShiftConfigs",
        ("module.codedeploy",),
        ("codedeploy:CreateDeploymentConfig", "codedeploy:DeleteDeploymentConfig"),
        # Named after their content (model.deployment_config_name): a changed traffic shift
        # creates the new config before the old one, of another name, is deleted.
        lambda names: [names.arn("codedeploy", f"deploymentconfig:{names.prefix}-*")],
        when=lambda env: env.traffic_shift is not None,
    ),
    # --- DNS name and certificate --------------------------------------------------------------
    Grant(
        "FindTheZoneAnyResource",
        ("module.dns",),
        ("route53:ListHostedZones",),
        _any,
        any_resource="ListHostedZones has no resource-level permissions",
        when=_HAS_DNS,
    ),
    Grant(
        "ServiceRecordsInTheZoneOnly",
        ("module.dns",),
        ("route53:ChangeResourceRecordSets",),
        lambda names: [names.global_arn("route53", "hostedzone/*")],
        lambda names: {
            "ForAllValues:StringLike": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                    names.env.dns.fqdn,  # type: ignore[union-attr]
                    f"_*.{names.env.dns.fqdn}",  # type: ignore[union-attr]
                ]
            }
        },
        when=_HAS_DNS,
    ),
    Grant(
        "ReadTheZoneAndChanges",
        ("module.dns",),
        (
            "route53:GetChange",
            "route53:GetHostedZone",
            "route53:ListResourceRecordSets",
            "route53:ListTagsForResource",
        ),
        lambda names: [names.global_arn("route53", "change/*"), names.global_arn("route53", "hostedzone/*")],
        when=_HAS_DNS,
    ),
    Grant(
        "RequestTheCertificateOfTheNameAnyResource",
        ("module.dns",),
        ("acm:RequestCertificate",),
        _any,
        lambda names: _merge(
            _region_only(names),
            names.tagged("aws:RequestTag"),
            {"ForAllValues:StringEquals": {"acm:DomainNames": [names.env.dns.fqdn]}},  # type: ignore[union-attr]
        ),
        any_resource="RequestCertificate has no resource type; acm:DomainNames and the request tags scope it",
        when=_HAS_HTTPS,
    ),
    Grant(
        "TagTheCertificateOnCreate",
        ("module.dns",),
        ("acm:AddTagsToCertificate",),
        lambda names: [names.arn("acm", "certificate/*")],
        lambda names: names.tagged("aws:RequestTag"),
        when=_HAS_HTTPS,
    ),
    Grant(
        "RetagTheCertificateOfTheService",
        ("module.dns",),
        ("acm:AddTagsToCertificate", "acm:RemoveTagsFromCertificate"),
        lambda names: [names.arn("acm", "certificate/*")],
        lambda names: _merge(names.tagged(), _KEEPS_SCOPING_TAGS),
        when=_HAS_HTTPS,
    ),
    Grant(
        "CertificateOfTheService",
        ("module.dns",),
        ("acm:DeleteCertificate", "acm:DescribeCertificate", "acm:ListTagsForCertificate"),
        lambda names: [names.arn("acm", "certificate/*")],
        lambda names: names.tagged(),
        when=_HAS_HTTPS,
    ),
    *STATE_GRANTS,
)

# Granted although no emulated step calls them: only a real `docker push` and `docker
# pull` do (the registry API behind them), which the test double of docker cannot make.
REGISTRY_ONLY_ACTIONS = {
    "ecr:BatchCheckLayerAvailability": "docker push checks which layers ECR has",
    "ecr:InitiateLayerUpload": "docker push uploads a layer",
    "ecr:UploadLayerPart": "docker push uploads a layer",
    "ecr:CompleteLayerUpload": "docker push uploads a layer",
    "ecr:BatchGetImage": "docker pull of the cache image reads its manifest",
    "ecr:GetDownloadUrlForLayer": "docker pull of the cache image downloads its layers",
}


def _names(service: str, env: Environment) -> Names:
    return Names(service, env, env.account_id or ACCOUNT)


def _statement(grant: Grant, names: Names) -> dict[str, Any]:
    resources = grant.resources(names)
    if resources == ["*"] and not grant.any_resource:
        raise AssertionError(f"{grant.sid}: '*' without a reason")
    statement: dict[str, Any] = {
        "Sid": grant.sid,
        "Effect": "Allow",
        "Action": sorted(grant.actions),
        "Resource": resources,
    }
    condition = grant.condition(names) if grant.condition else None
    if condition:
        statement["Condition"] = condition
    return statement


def statements(service: str, env: Environment) -> list[dict[str, Any]]:
    """Every statement of the deploy role's permissions for `env`, in table order."""
    names = _names(service, env)
    return [_statement(grant, names) for grant in GRANTS if grant.when(env)]


def grant_table(service: str, env: Environment) -> list[dict[str, str]]:
    """Sid, what it serves and why `*` (if it is), of each statement of `env`: the README's table."""
    del service
    return [
        {"sid": grant.sid, "serves": ", ".join(f"`{s}`" for s in grant.serves), "reason": grant.any_resource}
        for grant in GRANTS
        if grant.when(env)
    ]


def policy_size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts for a managed policy: the JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def _filled_size(document: Mapping[str, Any]) -> int:
    """The size once the bootstrap has put a 12-digit account id in place of ACCOUNT_ID."""
    return len(json.dumps(document, separators=(",", ":")).replace(ACCOUNT, "0" * 12))


def deployer_policies(service: str, env: Environment) -> list[dict[str, Any]]:
    """The deploy role's permissions as managed policy documents, each under the size limit.

    Statements keep their table order; a new document starts when the next statement
    would not fit.
    """
    documents: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for statement in statements(service, env):
        if current and _filled_size(_document([*current, statement])) > MANAGED_POLICY_LIMIT:
            documents.append(_document(current))
            current = []
        current.append(statement)
    if current:
        documents.append(_document(current))
    if len(documents) > MAX_MANAGED_POLICIES:
        raise AssertionError(f"{len(documents)} policies: more than a role may have attached")
    return documents


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def deployer_policy(service: str, env: Environment) -> dict[str, Any]:
    """All statements in one document (for reading and evaluating; AWS gets deployer_policies)."""
    return _document(statements(service, env))


def deployer_role_name(env: Environment) -> str:
    """The deploy role's name: the one of ci.role_arn where the spec names it, else PREFIX-deployer."""
    if env.ci_role_arn:
        return env.ci_role_arn.rsplit("/", 1)[-1]
    return f"{env.names['prefix']}-deployer"


def boundary_name(env: Environment) -> str:
    return f"{env.names['prefix']}-boundary"


def managed_policy_names(env: Environment, count: int) -> list[str]:
    return [f"{env.names['prefix']}-deploy-{number}" for number in range(1, count + 1)]


def permissions_boundary(service: str, env: Environment) -> dict[str, Any]:
    """The boundary every role the stack creates must carry.

    The stack's roles (ECS execution and task roles, CodeDeploy's role) get their
    permissions from the modules; the boundary caps what anyone with the deploy role
    could ever give them: no IAM, Organizations or account administration (so a role
    the pipeline makes can never mint or widen another), and passing only the
    service's own roles, to ECS tasks only. IAM User Guide, "Permissions boundaries
    for IAM entities" (the effective permissions are the intersection).
    """
    names = _names(service, env)
    return _document(
        [
            {
                "Sid": "NoIdentityOrAccountAdministration",
                "Effect": "Allow",
                "NotAction": ["account:*", "iam:*", "organizations:*", "sts:AssumeRole"],
                "Resource": "*",
            },
            {
                "Sid": "PassOnlyTheServiceRolesToEcsTasks",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": names.arn("iam", f"role/{names.prefix}-*", regional=False),
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
        ]
    )


def deployer_trust_policy(env: Environment, deploy_branch: str) -> dict[str, Any]:
    """Who may assume the deploy role: GitLab's OIDC tokens of the deploy branch of one project."""
    account = env.account_id or ACCOUNT
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitLabPipelinesOfTheDeployBranch",
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:{partition(env.region)}:iam::{account}:oidc-provider/gitlab.com"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"gitlab.com:aud": GITLAB_AUDIENCE},
                    "StringLike": {
                        "gitlab.com:sub": f"project_path:GROUP/PROJECT:ref_type:branch:ref:{deploy_branch}"
                    },
                },
            }
        ],
    }


# --- the state bucket's policy ------------------------------------------------------------


def state_bucket_owner(model: ServiceModel, env: Environment) -> Environment | None:
    """The environment whose bootstrap creates `env`'s state bucket: the first one using it."""
    if env.state is None:
        return None
    bucket = env.state.bucket
    return next(e for e in model.environments if e.state and e.state.bucket == bucket)


def deployer_role_arn(env: Environment) -> str:
    """The ARN of the role the bootstrap root of `env` creates (no path)."""
    return f"arn:{partition(env.region)}:iam::{env.account_id or ACCOUNT}:role/{deployer_role_name(env)}"


def in_another_account(owner: Environment, env: Environment) -> bool:
    """Whether service.yaml puts `env`'s deploy role in another account than `owner`'s bucket.

    Only an environment that pins its account can be named by the bucket's policy. One
    that pins none is taken to be in the bucket's account, where its identity policy
    suffices; deployed elsewhere it must pin aws.account_id (README, "Set up an account").
    Where the bucket's account is not pinned but `env`'s is, the accounts may differ, so
    `env` is granted: in its own account that statement allows only what the role's
    identity policy allows already.
    """
    return env.account_id is not None and env.account_id != owner.account_id


def cross_account_sharers(model: ServiceModel, owner: Environment) -> list[Environment]:
    """The environments keeping their state in the bucket `owner`'s bootstrap creates, from other accounts."""
    if state_bucket_owner(model, owner) is not owner:
        return []
    return [
        env
        for env in model.environments
        if env is not owner and state_bucket_owner(model, env) is owner and in_another_account(owner, env)
    ]


def state_bucket_statements(model: ServiceModel, owner: Environment) -> list[dict[str, Any]]:
    """What the policy of the state bucket `owner`'s bootstrap creates allows, besides its TLS-only deny.

    A request from another account is allowed only when both the caller's identity
    policy and the bucket's policy allow it (IAM User Guide, "Cross-account policy
    evaluation logic"; Amazon S3 User Guide, "Example 2: Bucket owner granting
    cross-account bucket permissions"). So each other environment sharing the bucket
    from another account (in_another_account) gets the same state grants as its deploy
    role's identity policy (STATE_GRANTS: its own key, its lock file, the workspace
    listing), for that role only. Same-account environments need nothing here.

    The principal is the account, narrowed to the role by aws:PrincipalArn: S3 refuses a
    policy naming a role that does not exist yet ("Invalid principal in policy", AWS
    Knowledge Center), and the other environment's bootstrap may run after this one; a
    role ARN principal would also stop matching once the role is deleted and created
    again (IAM User Guide, "AWS JSON policy elements: Principal").
    """
    found = []
    for env in cross_account_sharers(model, owner):
        names = _names(model.name, env)
        for grant in STATE_GRANTS:
            granted = _statement(grant, names)
            found.append(
                {
                    "Sid": f"{grant.sid}Of{env.name.capitalize()}",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition(env.region)}:iam::{env.account_id}:root"},
                    "Action": granted["Action"],
                    "Resource": granted["Resource"],
                    "Condition": _merge(
                        granted.get("Condition", {}),
                        {"ArnEquals": {"aws:PrincipalArn": deployer_role_arn(env)}},
                    ),
                }
            )
    return found


def state_bucket_notes(model: ServiceModel, env: Environment) -> list[str]:
    """What `bluegreen policy` says of `env`'s state bucket when its policy is part of the grant."""
    owner = state_bucket_owner(model, env)
    if owner is None or env.state is None:
        return []
    bucket = env.state.bucket
    if owner is env:
        others = [f"{other.name} (account {other.account_id})" for other in cross_account_sharers(model, env)]
        if not others:
            return []
        return [
            f"{env.name}: the bootstrap of {env.name} creates the state bucket {bucket}; its policy also "
            f"grants the deploy role of {', '.join(others)} that role's state statements, since access "
            "from another account needs both."
        ]
    where = f"account {owner.account_id}" if owner.account_id else f"the account of {owner.name}"
    if in_another_account(owner, env):
        return [
            f"{env.name}: the state bucket {bucket} is in {where}; its policy, which {owner.name}'s "
            "bootstrap applies, grants this role the same TerraformState statements: apply "
            f"{owner.name}'s bootstrap first."
        ]
    if env.account_id is None and owner.account_id is not None:
        return [
            f"{env.name}: service.yaml pins no account, so its deploy role is taken to be in {where}, "
            f"with the state bucket {bucket}; in another account, pin aws.account_id so that the "
            "bucket's policy grants it."
        ]
    return []


def template_context(model: ServiceModel) -> dict[str, dict[str, Any]]:
    """What the templates (README, bootstrap root) show of the deploy role, by environment."""
    context = {}
    for env in model.environments:
        documents = deployer_policies(model.name, env)
        owner = state_bucket_owner(model, env)
        context[env.name] = {
            "trust": json.dumps(deployer_trust_policy(env, model.deploy_branch), indent=2),
            "boundary_name": boundary_name(env),
            "boundary_json": json.dumps(permissions_boundary(model.name, env), indent=2),
            "policies": [json.dumps(document, indent=2) for document in documents],
            "policies_json": json.dumps(documents, indent=2),
            "policy_names": managed_policy_names(env, len(documents)),
            "role_name": deployer_role_name(env),
            "audience": GITLAB_AUDIENCE,
            "grants": grant_table(model.name, env),
            # The first environment using a state bucket creates it; the others share it.
            "creates_state": owner is env,
            "state_owner": owner,
            "state_bucket_statements": state_bucket_statements(model, env),
            "state_sharers": cross_account_sharers(model, env),
            "state_granted_by_owner": owner is not None and in_another_account(owner, env),
        }
    return context
