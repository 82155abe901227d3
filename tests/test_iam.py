"""IAM policies, the deploy role's and the modules': exact actions, '*' resources only where AWS allows
nothing narrower (or a condition key scopes them), under the managed policy size limit, parliament-clean,
and the permissions boundary required on every role the stack creates."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml
from bluegreen import iam
from bluegreen.emulator import evaluator, recorder
from bluegreen.validate import validate_file
from parliament import analyze_policy_string, enhance_finding
from policy_sentry.querying.actions import get_action_data

from tests.support.hcl import body, comments, parse, values
from tests.support.rendering import SPECS, spec_id
from tests.support.template_repo import PROJECT_ROOT

ENVIRONMENTS = [(spec, env) for spec in SPECS for env in validate_file(spec).environments]
ACCOUNT = "123456789012"


def _filled(document):
    return json.loads(json.dumps(document).replace(iam.ACCOUNT, ACCOUNT))


def _resource_formats(action: str) -> list[str]:
    """The ARN formats AWS's database (policy_sentry) lists for an action; [] when it has none."""
    service, name = action.split(":")
    rows = get_action_data(service, name)[service]
    return [row["resource_arn_format"] for row in rows if row["resource_arn_format"] != "*"]


def _arn_pattern(arn_format: str) -> re.Pattern[str]:
    parts = re.split(r"\$\{[^}]+\}", arn_format)
    return re.compile("[^ ]*".join(re.escape(part) for part in parts))


def _takes(formats: list[str], resource: str) -> bool:
    """Whether an ARN format of the action matches the policy's resource (a `*` standing for ids)."""
    return any(_arn_pattern(f).fullmatch(resource.replace("*", "x/y")) for f in formats)


@pytest.mark.parametrize(
    ("spec", "env"), ENVIRONMENTS, ids=[f"{spec_id(s)}-{e.name}" for s, e in ENVIRONMENTS]
)
def test_policy_grants_exact_actions_on_their_resource_types(spec, env):
    model = validate_file(spec)
    policy = _filled(iam.deployer_policy(model.name, env))
    reasons = {grant.sid: grant.any_resource for grant in iam.GRANTS}
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        covered = set()
        for action in statement["Action"]:
            assert "*" not in action, statement["Sid"]
            formats = _resource_formats(action)  # KeyError: no such action in AWS's database
            if statement["Resource"] == ["*"]:
                assert statement["Sid"].endswith("AnyResource") and reasons[statement["Sid"]]
                # Either AWS has no resource type for it, or condition keys scope it.
                assert not formats or statement.get("Condition"), f"{action} on '*' without a condition"
                continue
            matching = {r for r in statement["Resource"] if _takes(formats, r)}
            assert matching, f"{statement['Sid']}: {action} takes none of {statement['Resource']} ({formats})"
            covered |= matching
        if statement["Resource"] != ["*"]:
            assert covered == set(statement["Resource"]), f"{statement['Sid']}: no action takes some resource"
        if statement["Resource"] != ["*"]:
            owned = [env.names["prefix"], "hostedzone/*", "change/*", "aws-service-role/"]
            owned += ["security-group", "vpc/", "certificate/*", "scalable-target/*", "deploymentconfig:"]
            if env.state:
                owned += [env.state.bucket]
            if env.promote_from:  # the repository of the environment before, promote pulls from
                owned += [f"repository/{env.promote_from.repository}"]
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


@pytest.mark.parametrize(
    ("spec", "env"), ENVIRONMENTS, ids=[f"{spec_id(s)}-{e.name}" for s, e in ENVIRONMENTS]
)
def test_policies_fit_the_managed_policy_limit_and_keep_every_statement(spec, env):
    model = validate_file(spec)
    documents = iam.deployer_policies(model.name, env)
    # IAM counts a managed policy's characters without whitespace; the account id is 12 digits.
    assert all(iam.policy_size(_filled(d)) <= iam.MANAGED_POLICY_LIMIT for d in documents)
    assert 1 <= len(documents) <= iam.MAX_MANAGED_POLICIES
    together = [statement for document in documents for statement in document["Statement"]]
    assert together == iam.deployer_policy(model.name, env)["Statement"]
    assert (
        iam.policy_size(iam.deployer_policy(model.name, env)) > iam.MANAGED_POLICY_LIMIT
        or len(documents) == 1
    )


def _parliament_findings(document):
    found = []
    for raw in analyze_policy_string(json.dumps(_filled(document))).findings:
        finding = enhance_finding(raw)
        if finding.severity not in {"LOW", "INFO", "MUTE"}:
            found.append(finding)
    return found


@pytest.mark.parametrize(
    ("spec", "env"), ENVIRONMENTS, ids=[f"{spec_id(s)}-{e.name}" for s, e in ENVIRONMENTS]
)
def test_parliament_reports_nothing_above_low_but_its_stale_resource_types(spec, env):
    """The only findings above LOW are RESOURCE_MISMATCH where parliament's bundled database is
    older than AWS's: EC2's security-group-rule and the VPC of CreateSecurityGroup, and the
    application load balancer form of listener ARNs (parliament knows only the network one).
    Each is checked against policy_sentry's newer database: the action does take that ARN."""
    model = validate_file(spec)
    documents = [*iam.deployer_policies(model.name, env), iam.permissions_boundary(model.name, env)]
    for document in documents:
        for finding in _parliament_findings(document):
            assert finding.issue == "RESOURCE_MISMATCH", (finding.issue, finding.detail)
            statement = json.loads(json.dumps(_filled(document)))
            for mismatch in finding.detail:
                action = mismatch["action"]
                resources = [
                    r for s in statement["Statement"] if action in s.get("Action", []) for r in s["Resource"]
                ]
                formats = _resource_formats(action)
                assert any(_takes(formats, r) for r in resources), (action, resources, formats)


def test_a_role_created_without_the_boundary_is_denied():
    model = validate_file(SPECS[1])  # full.yaml
    env = model.environments[0]
    policies = iam.deployer_policies(model.name, env)
    role = f"arn:aws:iam::{env.account_id}:role/{env.names['execution_role']}"
    boundary = f"arn:aws:iam::{env.account_id}:policy/{iam.boundary_name(env)}"
    with_boundary = {"iam:PermissionsBoundary": [boundary]}
    assert evaluator.evaluate(policies, "iam:CreateRole", role, with_boundary).allowed
    assert evaluator.evaluate(policies, "iam:PutRolePolicy", role, with_boundary).allowed
    without = evaluator.evaluate(policies, "iam:CreateRole", role, {})
    assert not without.allowed and without.reason == "no statement allows it"
    other = {"iam:PermissionsBoundary": [f"arn:aws:iam::{env.account_id}:policy/AdministratorAccess"]}
    assert not evaluator.evaluate(policies, "iam:CreateRole", role, other).allowed
    # A role without the boundary cannot get a policy put on it either.
    assert not evaluator.evaluate(policies, "iam:PutRolePolicy", role, {}).allowed
    # Nor may the deploy role remove or change a boundary, or attach managed policies.
    for action in (
        "iam:DeleteRolePermissionsBoundary",
        "iam:PutRolePermissionsBoundary",
        "iam:AttachRolePolicy",
    ):
        assert not evaluator.evaluate(policies, action, role, with_boundary).allowed
    # The same, from a recorded CreateRole request without PermissionsBoundary.
    request = recorder.Request(
        access_key="ASIA",
        region="us-west-2",
        signing_service="iam",
        method="POST",
        path="/",
        query="",
        headers={},
        body=f"Action=CreateRole&RoleName={env.names['execution_role']}&AssumeRolePolicyDocument=%7B%7D".encode(),
        status=200,
        response=b"",
    )
    (check,) = recorder.Mapper(env.account_id).request_checks(0, request)
    assert (check.action, check.resource) == ("iam:CreateRole", role)
    assert not evaluator.evaluate(policies, check.action, check.resource, check.context_dict()).allowed


def test_the_boundary_stops_what_a_stack_role_could_be_given():
    model = validate_file(SPECS[1])
    env = model.environments[0]
    boundary = iam.permissions_boundary(model.name, env)
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    ours = f"arn:aws:iam::{env.account_id}:role/{env.names['task_role']}"
    for action, resource in [
        ("iam:CreateRole", f"arn:aws:iam::{env.account_id}:role/admin"),
        ("iam:AttachRolePolicy", ours),
        ("organizations:LeaveOrganization", "*"),
        ("sts:AssumeRole", f"arn:aws:iam::{env.account_id}:role/admin"),
        ("iam:PassRole", f"arn:aws:iam::{env.account_id}:role/admin"),
    ]:
        assert not evaluator.evaluate([everything], action, resource, {}, boundary=boundary).allowed, action
    passed = {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}
    assert evaluator.evaluate([everything], "iam:PassRole", ours, passed, boundary=boundary).allowed
    assert evaluator.evaluate(
        [everything], "ecr:BatchGetImage", "arn:aws:ecr:us-west-2:1:repository/x", {}, boundary=boundary
    ).allowed


def test_every_role_of_the_modules_carries_the_boundary():
    roles = 0
    for path in MODULE_FILES:
        for role in parse(path).blocks("resource", "aws_iam_role"):
            roles += 1
            assert body(role).get("permissions_boundary") == "${var.permissions_boundary_arn}", path
    assert roles == 3, "execution, task and CodeDeploy roles"


@pytest.mark.parametrize(
    ("condition", "context", "allowed"),
    [
        ({"StringEquals": {"aws:RequestTag/Service": "a"}}, {"aws:RequestTag/Service": ["a"]}, True),
        ({"StringEquals": {"aws:RequestTag/Service": "a"}}, {}, False),
        ({"StringEqualsIfExists": {"aws:RequestTag/Service": "a"}}, {}, True),
        ({"StringNotEquals": {"aws:RequestTag/Service": "a"}}, {}, True),
        (
            {"ForAllValues:StringLike": {"k:names": ["a.example.com", "_*.a.example.com"]}},
            {"k:names": ["a.example.com", "_x.a.example.com"]},
            True,
        ),
        (
            {"ForAllValues:StringLike": {"k:names": ["a.example.com"]}},
            {"k:names": ["a.example.com", "b.example.com"]},
            False,
        ),
        ({"ForAnyValue:StringEquals": {"k:names": ["b"]}}, {}, False),
        ({"Null": {"aws:ResourceTag/Vpc": "false"}}, {"aws:ResourceTag/Vpc": ["true"]}, True),
        ({"Null": {"aws:ResourceTag/Vpc": "false"}}, {}, False),
        (
            {"StringEquals": {"AWS:RequestedRegion": "eu-west-1"}},
            {"aws:requestedregion": ["eu-west-1"]},
            True,
        ),
    ],
)
def test_evaluator_conditions(condition, context, allowed):
    policy = {"Statement": [{"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": condition}]}
    assert evaluator.evaluate([policy], "x:Y", "*", context).allowed is allowed


def test_evaluator_deny_wins_and_resources_match_by_wildcard():
    allow = {
        "Statement": [
            {"Effect": "Allow", "Action": "ECS:Describe*", "Resource": "arn:aws:ecs:*:1:service/c/*"}
        ]
    }
    assert evaluator.evaluate(
        [allow], "ecs:DescribeServices", "arn:aws:ecs:eu-west-1:1:service/c/s", {}
    ).allowed
    assert not evaluator.evaluate(
        [allow], "ecs:DescribeServices", "arn:aws:ecs:eu-west-1:1:service/d/s", {}
    ).allowed
    # An action without resource-level permissions is checked on "*", which only "*" grants.
    assert not evaluator.evaluate([allow], "ecs:DescribeServices", "*", {}).allowed
    deny = {"Statement": [{"Sid": "No", "Effect": "Deny", "Action": "ecs:*", "Resource": "*"}]}
    decision = evaluator.evaluate(
        [allow, deny], "ecs:DescribeServices", "arn:aws:ecs:eu-west-1:1:service/c/s", {}
    )
    assert not decision.allowed and decision.reason == "explicitly denied by No"


def test_policy_command_prints_the_documents_of_an_environment(tmp_path):
    spec = SPECS[1]  # full.yaml: staging and production
    model = validate_file(spec)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "bluegreen.cli", "policy", str(spec), *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )

    result = run("--env", "production")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == iam.deployer_policies(model.name, model.environments[1])
    # Its state is in staging's account: the note says whose bootstrap grants it there.
    assert result.stderr.startswith(
        "note: production: the state bucket my-terraform-state is in account 210987654321"
    )
    staging = run("--env", "staging")
    assert (
        staging.returncode == 0
        and "grants the deploy role of production (account 123456789012)" in staging.stderr
    )
    several = run()
    assert several.returncode == 2 and several.stdout == ""
    assert several.stderr.strip().endswith("which environment? --env one of: staging, production")
    unknown = run("--env", "qa")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr


def _full_spec(tmp_path, staging_account, production_account):
    """full.yaml with its environments' accounts (None: not pinned), and the role names of CI kept."""
    data = yaml.safe_load(SPECS[1].read_text())
    data["aws"].pop("account_id")
    data["ci"].pop("role_arn")
    data["environments"]["staging"].pop("ci")
    data["environments"]["staging"]["aws"] = {"account_id": staging_account} if staging_account else {}
    data["environments"]["production"] = (
        {"aws": {"account_id": production_account}} if production_account else {}
    )
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return validate_file(path)


def test_the_state_bucket_policy_grants_other_accounts_their_state_grants_only():
    model = validate_file(SPECS[1])  # full.yaml: staging (210987654321) creates the bucket production shares
    staging, production = model.environments
    granted = iam.state_bucket_statements(model, staging)
    own = [
        s
        for s in iam.deployer_policy(model.name, production)["Statement"]
        if s["Sid"].startswith("TerraformState")
    ]
    assert len(granted) == len(own) == 3
    role = "arn:aws:iam::123456789012:role/gitlab-deployer"
    for bucket_statement, statement in zip(granted, own, strict=True):
        # The same actions on the same resources under the same conditions, for that one role.
        assert bucket_statement["Sid"] == f"{statement['Sid']}OfProduction"
        assert bucket_statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
        assert (bucket_statement["Action"], bucket_statement["Resource"]) == (
            statement["Action"],
            statement["Resource"],
        )
        assert bucket_statement["Condition"] == {
            **statement.get("Condition", {}),
            "ArnEquals": {"aws:PrincipalArn": role},
        }
    assert {r for s in granted for r in s["Resource"]} == {
        "arn:aws:s3:::my-terraform-state",
        f"arn:aws:s3:::my-terraform-state/{production.state.key}",
        f"arn:aws:s3:::my-terraform-state/{production.state.key}.tflock",
    }
    assert iam.state_bucket_statements(model, production) == [], "production's bootstrap creates no bucket"


def test_the_state_bucket_policy_names_no_one_of_its_own_account(tmp_path):
    same = _full_spec(tmp_path, "123456789012", "123456789012")
    assert iam.state_bucket_statements(same, same.environments[0]) == []
    # Neither pinned: taken to be one account (the README says to pin one in another account).
    unpinned = _full_spec(tmp_path, None, None)
    assert iam.state_bucket_statements(unpinned, unpinned.environments[0]) == []
    assert iam.state_bucket_notes(unpinned, unpinned.environments[1]) == []
    # Production unpinned while staging's bucket is pinned: no principal to name, and a note says so.
    loose = _full_spec(tmp_path, "210987654321", None)
    assert iam.state_bucket_statements(loose, loose.environments[0]) == []
    (note,) = iam.state_bucket_notes(loose, loose.environments[1])
    assert "pin aws.account_id" in note
    # The bucket's account known only at apply time: production, pinned, is granted (in the same
    # account that statement adds nothing to what production's own policy allows).
    late = _full_spec(tmp_path, None, "123456789012")
    assert [s["Sid"] for s in iam.state_bucket_statements(late, late.environments[0])] == [
        "TerraformStateObjectOfProduction",
        "TerraformStateBucketOfProduction",
        "TerraformStateLockFileOfProduction",
    ]


def test_account_pinned_spec_names_its_account():
    model = validate_file(SPECS[1])  # full.yaml: staging pins 210987654321
    staging = model.environments[0]
    text = json.dumps(iam.deployer_policies(model.name, staging))
    assert ":210987654321:" in text and "ACCOUNT_ID" not in text
    trust = iam.deployer_trust_policy(staging, model.deploy_branch)
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


def _statements() -> list[tuple[str, dict]]:
    """Every statement of every aws_iam_policy_document in the modules, a dynamic one's content
    included: (where, body with its comments)."""
    found = []
    for path in MODULE_FILES:
        for document in parse(path).blocks("data", "aws_iam_policy_document"):
            where = f"{path.parent.name}/{path.name} {document.labels[2]}"
            views = document.blocks("statement") + [
                content
                for dynamic in document.blocks("dynamic", "statement")
                for content in dynamic.blocks("content")
            ]
            found += [(where, body(view, comments=True)) for view in views]
    return found


def test_module_policies_name_exact_actions_and_scoped_resources():
    statements = _statements()
    assert len(statements) >= 10, "the execution role's and CodeDeploy's policies and the trust policies"
    for where, statement in statements:
        actions = statement.get("actions")
        assert actions, f"{where}: a statement without actions:\n{statement}"
        assert isinstance(actions, list), f"{where}: literal actions only"
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", name) for name in actions), f"{where}: {actions}"
        resources = statement.get("resources")
        if "principals" in statement:
            assert actions == ["sts:AssumeRole"] and resources is None, f"{where}: a trust policy"
            continue
        assert resources, f"{where}: {actions} without resources"
        resources = resources if isinstance(resources, list) else [resources]
        if "*" in resources:
            assert set(actions) <= NO_RESOURCE_LEVEL_PERMISSIONS, f"{where}: {actions} on any resource"
            assert any('only "*"' in line for line in comments(statement)), f'{where}: a comment says why "*"'
        for resource in resources:
            assert resource == "*" or re.fullmatch(r"[^*]+([:/-]\*)?", resource), f"{where}: {resource}"


def test_modules_attach_no_managed_policy_and_every_inline_policy_is_a_checked_document():
    for path in MODULE_FILES:
        parsed = parse(path)
        assert not parsed.blocks("resource", "aws_iam_role_policy_attachment"), (
            f"{path}: managed policies cannot be narrowed"
        )
        assert not [v for v in values(body(parsed)) if isinstance(v, str) and ":policy/" in v], path
        # The documents test_module_policies_name_exact_actions_and_scoped_resources checks.
        documents = {
            f"${{data.aws_iam_policy_document.{document.labels[2]}.json}}"
            for document in parsed.blocks("data", "aws_iam_policy_document")
        }
        for role in parsed.blocks("resource", "aws_iam_role"):
            assert "managed_policy_arns" not in body(role), path
            assert all(inline["policy"] in documents for inline in body(role).get("inline_policy", [])), path
        for policy in parsed.blocks("resource", "aws_iam_role_policy"):
            assert body(policy)["policy"] in documents, f"{path}: {policy.labels}"


def test_evaluator_cross_account_needs_the_identity_and_the_resource_policy():
    """IAM User Guide, "Cross-account policy evaluation logic": from another account, the
    identity policy and the resource's policy must both allow; in its account either may."""
    role = evaluator.Principal("arn:aws:iam::111111111111:role/deployer", "111111111111")
    key = "arn:aws:s3:::bucket/services/a/production/terraform.tfstate"
    identity = {"Statement": [{"Sid": "Own", "Effect": "Allow", "Action": "s3:GetObject", "Resource": key}]}
    bucket = {
        "Statement": [
            {
                "Sid": "DenyRequestsWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::bucket", "arn:aws:s3:::bucket/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "Theirs",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "s3:GetObject",
                "Resource": key,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": role.arn}},
            },
        ]
    }
    tls = {"aws:SecureTransport": ["true"]}

    def decide(policies, resource_policy, account, context=tls, principal=role):
        return evaluator.evaluate(
            policies,
            "s3:GetObject",
            key,
            context,
            resource_policy=resource_policy,
            principal=principal,
            resource_account=account,
        )

    no_grant = {"Statement": [bucket["Statement"][0]]}
    # Another account's bucket: the identity policy alone is not enough, nor the bucket's alone.
    only_identity = decide([identity], no_grant, "222222222222")
    assert not only_identity.allowed and "resource policy must allow it too" in only_identity.reason
    assert not decide([], bucket, "222222222222").allowed
    both = decide([identity], bucket, "222222222222")
    assert both.allowed and both.sids == ("Own", "Theirs")
    # Another role of the same account is not the one aws:PrincipalArn names.
    other = evaluator.Principal("arn:aws:iam::111111111111:role/other", "111111111111")
    assert not decide([identity], bucket, "222222222222", principal=other).allowed
    # Without TLS the bucket's Deny wins over both allows.
    plain = decide([identity], bucket, "222222222222", context={"aws:SecureTransport": ["false"]})
    assert not plain.allowed and plain.explicit and "DenyRequestsWithoutTls" in plain.reason
    # The bucket's own account: the identity policy suffices.
    assert decide([identity], no_grant, "111111111111").allowed
