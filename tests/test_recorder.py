"""The request recorder of the emulator and the IAM checks it derives, on a few real requests."""

from __future__ import annotations

import json

import pytest
from bluegreen.emulator import recorder, sandbox


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A recording emulator that saw: a tagged security group created, an ingress rule, a role
    created without and with a boundary, a task definition passing that role, a cluster."""
    record = tmp_path_factory.mktemp("record") / "requests.jsonl"
    with sandbox.Emulator(patched=True, env={recorder.RECORD_ENV: str(record)}) as emulator:
        ec2 = sandbox.client("ec2", emulator.endpoint, "eu-west-1")
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        tags = [{"Key": "Service", "Value": "svc"}, {"Key": "Environment", "Value": "prod"}]
        group = ec2.create_security_group(
            GroupName="svc-prod-alb",
            Description="x",
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
        iam = sandbox.client("iam", emulator.endpoint, "eu-west-1")
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        iam.create_role(RoleName="svc-prod-plain", AssumeRolePolicyDocument=trust)
        boundary = "arn:aws:iam::123456789012:policy/svc-prod-boundary"
        role = iam.create_role(
            RoleName="svc-prod-task", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary
        )
        logs = {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}
        policy = json.dumps({"Version": "2012-10-17", "Statement": [logs]})
        iam.put_role_policy(RoleName="svc-prod-task", PolicyName="p", PolicyDocument=policy)
        ecs = sandbox.client("ecs", emulator.endpoint, "eu-west-1")
        ecs.create_cluster(clusterName="svc-prod", tags=[{"key": "Service", "value": "svc"}])
        ecs.register_task_definition(
            family="svc-prod",
            taskRoleArn=role["Role"]["Arn"],
            containerDefinitions=[{"name": "app", "image": "x", "memory": 512}],
        )
    return list(recorder.read(record))


def _checks(requests):
    return recorder.Mapper("123456789012").checks(requests)


def test_every_aws_request_is_recorded_with_its_caller_and_answer(recorded):
    assert [r.signing_service for r in recorded] == ["ec2"] * 3 + ["iam"] * 3 + ["ecs"] * 2
    assert {r.access_key for r in recorded} == {sandbox.FAKE_ACCESS_KEY}
    assert all(r.status == 200 and r.region == "eu-west-1" for r in recorded)
    assert b"<groupId>sg-" in recorded[1].response


def test_a_tagged_create_also_checks_the_tagging_action_with_its_create_action(recorded):
    checks = [c for c in _checks(recorded) if c.operation == "ec2:CreateSecurityGroup"]
    by_action = {(c.action, c.resource.split(":")[-1].split("/")[0]): c.context_dict() for c in checks}
    created = by_action[("ec2:CreateSecurityGroup", "security-group")]
    assert created["aws:RequestTag/Service"] == ["svc"] and created["aws:RequestedRegion"] == ["eu-west-1"]
    assert ("ec2:CreateSecurityGroup", "vpc") in by_action
    tagging = by_action[("ec2:CreateTags", "security-group")]
    assert tagging["ec2:CreateAction"] == ["CreateSecurityGroup"]
    # Later changes of the group see its tags as aws:ResourceTag.
    (ingress,) = [c for c in _checks(recorded) if c.action == "ec2:AuthorizeSecurityGroupIngress"]
    assert ingress.context_dict()["aws:ResourceTag/Environment"] == ["prod"]


def test_roles_carry_their_boundary_into_the_checks(recorded):
    checks = {(c.action, c.resource.rsplit("/", 1)[-1]): c.context_dict() for c in _checks(recorded)}
    assert "iam:PermissionsBoundary" not in checks[("iam:CreateRole", "svc-prod-plain")]
    boundary = ["arn:aws:iam::123456789012:policy/svc-prod-boundary"]
    assert checks[("iam:CreateRole", "svc-prod-task")]["iam:PermissionsBoundary"] == boundary
    assert checks[("iam:PutRolePolicy", "svc-prod-task")]["iam:PermissionsBoundary"] == boundary


def test_implicit_checks_pass_role_and_service_linked_role(recorded):
    checks = _checks(recorded)
    (passed,) = [c for c in checks if c.action == "iam:PassRole"]
    assert passed.resource.endswith(":role/svc-prod-task")
    assert passed.context_dict()["iam:PassedToService"] == ["ecs-tasks.amazonaws.com"]
    (linked,) = [c for c in checks if c.action == "iam:CreateServiceLinkedRole"]
    assert linked.context_dict()["iam:AWSServiceName"] == ["ecs.amazonaws.com"]
    assert linked.operation == "ecs:CreateCluster"


def test_an_unknown_operation_is_an_error_not_a_silent_pass(recorded):
    unknown = recorder.Request(
        access_key="k",
        region="eu-west-1",
        signing_service="ec2",
        method="POST",
        path="/",
        query="",
        headers={},
        body=b"Action=RunInstances",
        status=200,
        response=b"",
    )
    with pytest.raises(recorder.UnmappedRequest, match="ec2:RunInstances"):
        recorder.Mapper("123456789012").request_checks(0, unknown)
    # Another caller's unknown request is only followed for state, never an error.
    assert recorder.Mapper("123456789012").checks([unknown], access_keys={"other"}) == []
