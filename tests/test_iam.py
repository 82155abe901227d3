"""IAM policies, the deploy role's and the modules': no wildcard actions, '*' resources only where AWS
allows nothing narrower."""

from __future__ import annotations

import json
import re

import pytest
from bluegreen.iam import deployer_policy, deployer_trust_policy
from bluegreen.validate import validate_file

from tests.support.rendering import SPECS, spec_id
from tests.support.template_repo import PROJECT_ROOT

ENVIRONMENTS = [(spec, env) for spec in SPECS for env in validate_file(spec).environments]


@pytest.mark.parametrize(
    ("spec", "env"), ENVIRONMENTS, ids=[f"{spec_id(s)}-{e.name}" for s, e in ENVIRONMENTS]
)
def test_policy_is_least_privilege(spec, env):
    model = validate_file(spec)
    policy = json.loads(json.dumps(deployer_policy(model.name, env)))
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"]), statement["Sid"]
        if "*" in statement["Resource"]:
            assert statement["Sid"].endswith("AnyResource"), "only calls without resource-level permissions"
            continue
        owned = [
            env.names["prefix"],
            "hostedzone/*",
            "certificate/*",
            "security-group",
            "AutoScaling_ECSService",
            "deploymentconfig:CodeDeployDefault.",
        ]
        if env.state:
            owned += [env.state.bucket, env.state.lock_table]
        for resource in statement["Resource"]:
            assert any(part in resource for part in owned), resource
    if env.dns:
        record_names = next(s for s in policy["Statement"] if s["Sid"] == "ServiceRecordsInTheZoneOnly")
        names = record_names["Condition"]["ForAllValues:StringLike"][
            "route53:ChangeResourceRecordSetsNormalizedRecordNames"
        ]
        assert env.dns.fqdn in names
    else:
        assert not [s for s in sids if "Zone" in s or "Certificate" in s]
    assert bool(env.state) == any("TerraformState" in sid for sid in sids)


def test_account_pinned_spec_names_its_account():
    model = validate_file(SPECS[1])  # full.yaml: staging pins 210987654321
    staging = model.environments[0]
    text = json.dumps(deployer_policy(model.name, staging))
    assert ":210987654321:" in text and "ACCOUNT_ID" not in text
    trust = deployer_trust_policy(staging, model.deploy_branch)
    assert trust["Statement"][0]["Condition"]["StringLike"]["gitlab.com:sub"].endswith("ref:main")


# Actions for which the Service Authorization Reference lists no resource type:
# IAM accepts only "*" as their resource.
NO_RESOURCE_LEVEL_PERMISSIONS = {
    "ecr:GetAuthorizationToken",
    "ecs:CreateTaskSet",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
}
MODULE_FILES = sorted((PROJECT_ROOT / "template" / "deploy" / "terraform" / "modules").glob("*/*.tf"))


def _blocks(text: str, header: str) -> list[str]:
    """The bodies of the blocks whose opening line matches `header` (a regex), at any depth.

    The modules are `terraform fmt` clean (tests/test_terraform_static.py), so a
    block ends at the first `}` indented like its opening line.
    """
    lines = text.splitlines()
    bodies = []
    for start, line in enumerate(lines):
        opening = re.fullmatch(rf"( *){header} \{{", line)
        if opening:
            end = lines.index(f"{opening.group(1)}}}", start)
            bodies.append("\n".join(lines[start + 1 : end]))
    return bodies


def _attribute(body: str, name: str) -> str | None:
    """The value of the attribute `name` at the top level of a block body; a list spans its lines."""
    lines = body.splitlines()
    indent = re.match(r" *", lines[0]).group(0)
    for number, line in enumerate(lines):
        match = re.fullmatch(rf"{indent}{name}\s+= (.*)", line)
        if match and match.group(1) == "[":
            return "\n".join(["[", *lines[number + 1 : lines.index(f"{indent}]", number) + 1]])
        if match:
            return match.group(1)
    return None


def _statements() -> list[tuple[str, str]]:
    """Every statement of every aws_iam_policy_document in the modules: (where, body)."""
    found = []
    for path in MODULE_FILES:
        for document in _blocks(path.read_text(), r'data "aws_iam_policy_document" "\w+"'):
            name = f"{path.parent.name}/{path.name}"
            found += [(name, body) for body in _blocks(document, r"(statement|content)")]
    return found


def test_module_policies_name_exact_actions_and_scoped_resources():
    statements = _statements()
    assert len(statements) >= 10, "the execution role's and CodeDeploy's policies and the trust policies"
    for where, body in statements:
        actions = _attribute(body, "actions")
        assert actions, f"{where}: a statement without actions:\n{body}"
        names = re.findall(r'"([^"]*)"', actions)
        assert not re.sub(r'"[^"]*"|[\[\],\s]', "", actions), f"{where}: literal actions only"
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", name) for name in names), f"{where}: {names}"
        resources = _attribute(body, "resources")
        if "principals {" in body:
            assert names == ["sts:AssumeRole"] and resources is None, f"{where}: a trust policy"
            continue
        assert resources, f"{where}: {names} without resources"
        if '"*"' in resources:
            assert set(names) <= NO_RESOURCE_LEVEL_PERMISSIONS, f"{where}: {names} on any resource"
            assert re.search(r'^\s*#.* only "\*"', body, re.MULTILINE), f'{where}: a comment says why "*"'
        for resource in re.findall(r'"([^"]*)"', resources):
            assert resource == "*" or re.fullmatch(r"[^*]+([:/-]\*)?", resource), f"{where}: {resource}"


def test_modules_attach_no_managed_policy_and_every_inline_policy_is_a_checked_document():
    for path in MODULE_FILES:
        text = path.read_text()
        assert "aws_iam_role_policy_attachment" not in text, f"{path}: managed policies cannot be narrowed"
        assert "managed_policy_arns" not in text and ":policy/" not in text, path
        policies = _blocks(text, r'resource "aws_iam_role_policy" "\w+"')
        assert len(policies) == text.count('resource "aws_iam_role_policy"'), path
        for policy in policies:
            assert re.search(r"^  policy = data\.aws_iam_policy_document\.\w+\.json$", policy, re.MULTILINE)
