"""The account bootstrap root (deploy/terraform/bootstrap/ENV): what an administrator applies once.

It must validate for every spec and environment, carry the same documents as `bluegreen
policy` and the README, and apply against the emulator: the deploy role with its trust
policy and managed policies, the boundary, and for a spec with `state:` a state bucket
that is versioned, encrypted, private (ACLs off) and TLS only (state is locked by a lock
file in it), whose policy grants the deploy roles of environments in other accounts
their own state, as their identity policies do (bluegreen.iam.state_bucket_statements).
tests/test_iam_lifecycle.py then deploys with the role this root makes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from bluegreen import iam
from bluegreen.emulator import evaluator, sandbox
from bluegreen.render import render_new
from bluegreen.validate import validate_file

from tests.support.hcl import block, parse
from tests.support.rendering import SPECS, rendered, spec_id

pytestmark = pytest.mark.terraform

ENVIRONMENTS = [(spec, env) for spec in SPECS for env in validate_file(spec).environments]
FULL = next(spec for spec in SPECS if spec.stem == "full")


def _root(repo: Path, env_name: str) -> Path:
    return repo / "deploy" / "terraform" / "bootstrap" / env_name


def _lists(value):
    return sorted(value) if isinstance(value, list) else [value]


def _normal(statement):
    """A policy statement with every value a sorted list, however the writer shortened it."""
    principal = statement.get("Principal")
    normal = {
        "Sid": statement["Sid"],
        "Effect": statement.get("Effect", "Allow"),
        "Principal": principal if principal == "*" else {k: _lists(v) for k, v in principal.items()},
        "Action": _lists(statement["Action"]),
        "Resource": _lists(statement["Resource"]),
    }
    if statement.get("Condition"):
        normal["Condition"] = {
            test: {key: _lists(values) for key, values in pairs.items()}
            for test, pairs in statement["Condition"].items()
        }
    return normal


def _state_policy_in_hcl(root: Path) -> list[dict]:
    """The statements of the bootstrap root's data "aws_iam_policy_document" "state", in IAM's terms."""
    document = block(parse(root / "main.tf"), "data", "aws_iam_policy_document", "state")
    found = []
    for statement in document["statement"]:
        (principals,) = statement["principals"]
        conditions: dict = {}
        for condition in statement.get("condition", []):
            conditions.setdefault(condition["test"], {})[condition["variable"]] = condition["values"]
        found.append(
            _normal(
                {
                    "Sid": statement["sid"],
                    "Effect": statement.get("effect", "Allow"),
                    "Principal": "*"
                    if principals["type"] == "*"
                    else {principals["type"]: principals["identifiers"]},
                    "Action": statement["actions"],
                    "Resource": statement["resources"],
                    "Condition": conditions,
                }
            )
        )
    return found


TLS_ONLY = _normal(
    {
        "Sid": "DenyRequestsWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["${aws_s3_bucket.state.arn}", "${aws_s3_bucket.state.arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)


@pytest.mark.parametrize(
    ("spec", "env"), ENVIRONMENTS, ids=[f"{spec_id(s)}-{e.name}" for s, e in ENVIRONMENTS]
)
def test_bootstrap_carries_the_documents_of_bluegreen_policy(spec, env):
    model = validate_file(spec)
    root = _root(rendered(spec), env.name)
    assert json.loads((root / "deploy-policies.json").read_text()) == iam.deployer_policies(model.name, env)
    boundary = json.loads((root / "permissions-boundary.json").read_text())
    assert boundary == iam.permissions_boundary(model.name, env)
    readme = (rendered(spec) / "README.md").read_text()
    assert f"deploy/terraform/bootstrap/{env.name}" in readme
    for document in iam.deployer_policies(model.name, env):
        assert json.dumps(document, indent=2) in readme
    main = parse(root / "main.tf")
    first_with_bucket = (
        env.state
        and next(e for e in model.environments if e.state and e.state.bucket == env.state.bucket).name
        == env.name
    )
    assert bool(main.blocks("resource", "aws_s3_bucket", "state")) == bool(first_with_bucket)


def test_the_state_bucket_policy_adds_the_state_grants_of_other_accounts_to_the_tls_deny(tmp_path):
    model = validate_file(
        FULL
    )  # staging (210987654321) creates the bucket; production (123456789012) shares it
    staging, production = model.environments
    policy = _state_policy_in_hcl(_root(rendered(FULL), staging.name))
    expected = [_normal(s) for s in iam.state_bucket_statements(model, staging)]
    assert policy == [TLS_ONLY, *expected]
    assert [s["Sid"] for s in expected] == [
        "TerraformStateObjectOfProduction",
        "TerraformStateBucketOfProduction",
        "TerraformStateLockFileOfProduction",
    ]
    # Production's role only, and only its key, its lock file and the workspace listing.
    role = "arn:aws:iam::123456789012:role/gitlab-deployer"
    assert all(s["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root"]} for s in expected)
    assert all(s["Condition"]["ArnEquals"] == {"aws:PrincipalArn": [role]} for s in expected)
    assert sorted(r for s in expected for r in s["Resource"]) == [
        "arn:aws:s3:::my-terraform-state",
        f"arn:aws:s3:::my-terraform-state/{production.state.key}",
        f"arn:aws:s3:::my-terraform-state/{production.state.key}.tflock",
    ]
    listing = next(s for s in expected if s["Action"] == ["s3:ListBucket"])
    assert listing["Condition"]["StringEquals"] == {"s3:prefix": [iam.WORKSPACE_LISTING_PREFIX]}
    production_root = parse(_root(rendered(FULL), production.name) / "main.tf")
    assert not [
        r.labels for r in production_root.blocks("resource") if r.labels[1].startswith("aws_s3_bucket")
    ]
    # The README's set-up says so, and in which order to apply the two bootstraps.
    readme = " ".join((rendered(FULL) / "README.md").read_text().split())
    assert "also grants the deploy role of production (account 123456789012)" in readme
    assert "Apply this bootstrap first." in readme
    assert "The bucket is in another account (210987654321)" in readme

    # Both environments in one account: the identity policies suffice, the bucket stays TLS only.
    data = yaml.safe_load(FULL.read_text())
    data["environments"]["staging"] = {
        **data["environments"]["staging"],
        "aws": {"account_id": "123456789012"},
    }
    data["environments"]["staging"]["ci"] = {"role_arn": "arn:aws:iam::123456789012:role/staging-deployer"}
    same = tmp_path / "service.yaml"
    same.write_text(yaml.safe_dump(data, sort_keys=False))
    repo = render_new(same, tmp_path / "repo")
    assert _state_policy_in_hcl(_root(repo, "staging")) == [TLS_ONLY]


def test_bootstrap_roots_validate(terraform_toolchain, tmp_path):
    for spec, env in ENVIRONMENTS:
        root = shutil.copytree(_root(rendered(spec), env.name), tmp_path / f"{spec_id(spec)}-{env.name}")
        sandbox.terraform(root, "init", "-backend=false")
        sandbox.terraform(root, "validate")


def _only_its_own_state_reaches_production(model, policy):
    """Evaluated as AWS would (IAM User Guide, "Cross-account policy evaluation logic"): production's
    deploy role, in another account than staging's bucket, reaches its own state only, over TLS only."""
    staging, production = model.environments
    bucket = staging.state.bucket
    role = evaluator.Principal(iam.deployer_role_arn(production), production.account_id)
    identity = iam.deployer_policies(model.name, production)

    def decide(action, resource, **context):
        return evaluator.evaluate(
            identity,
            action,
            resource,
            {"aws:SecureTransport": ["true"], **context},
            resource_policy=policy,
            principal=role,
            resource_account=staging.account_id,
        )

    own, theirs = (f"arn:aws:s3:::{bucket}/{e.state.key}" for e in (production, staging))
    for action, resource in [
        ("s3:GetObject", own),
        ("s3:PutObject", own),
        ("s3:PutObject", f"{own}.tflock"),
        ("s3:DeleteObject", f"{own}.tflock"),
    ]:
        assert decide(action, resource).allowed, (action, resource)
    assert decide("s3:ListBucket", f"arn:aws:s3:::{bucket}", **{"s3:prefix": ["env:/"]}).allowed
    assert not decide("s3:ListBucket", f"arn:aws:s3:::{bucket}", **{"s3:prefix": ["services/"]}).allowed
    assert not decide("s3:GetObject", theirs).allowed
    assert not decide("s3:DeleteObject", own).allowed
    assert decide("s3:GetObject", own, **{"aws:SecureTransport": ["false"]}).explicit
    # Without the bucket's statements production's own policy is not enough.
    tls_only = {"Statement": policy["Statement"][:1]}
    assert not evaluator.evaluate(
        identity,
        "s3:GetObject",
        own,
        {"aws:SecureTransport": ["true"]},
        resource_policy=tls_only,
        principal=role,
        resource_account=staging.account_id,
    ).allowed


def test_bootstrap_applies_what_the_pipeline_needs(emulator, tmp_path):
    model = validate_file(FULL)
    env = model.environments[0]  # staging: its own account, remote state
    assert env.state is not None
    root = shutil.copytree(_root(rendered(FULL), env.name), tmp_path / "bootstrap")
    admin = sandbox.credentials_for_account(emulator.endpoint, env.account_id)
    sandbox.write_provider_override(root, emulator.endpoint, env.region, credentials=admin)
    sandbox.terraform(root, "init")
    sandbox.terraform(
        root, "apply", "-auto-approve", "-input=false", "-var=gitlab_project_path=group/project"
    )

    client = sandbox.client("iam", emulator.endpoint, env.region, admin)
    role = client.get_role(RoleName=iam.deployer_role_name(env))["Role"]
    assert role["Arn"] == env.ci_role_arn, "the role service.yaml names for CI"
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    (statement,) = trust["Statement"]
    assert statement["Principal"]["Federated"].endswith(":oidc-provider/gitlab.com")
    assert statement["Condition"]["StringEquals"] == {
        "gitlab.com:aud": iam.GITLAB_AUDIENCE,
        "gitlab.com:sub": f"project_path:group/project:ref_type:branch:ref:{model.deploy_branch}",
    }
    attached = client.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    documents = []
    for policy in sorted(attached, key=lambda p: p["PolicyName"]):
        version = client.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = client.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)
        text = document["PolicyVersion"]["Document"]
        documents.append(json.loads(text) if isinstance(text, str) else text)
    assert documents == iam.deployer_policies(model.name, env)
    boundary_arn = f"arn:aws:iam::{env.account_id}:policy/{iam.boundary_name(env)}"
    assert client.get_policy(PolicyArn=boundary_arn)["Policy"]["PolicyName"] == iam.boundary_name(env)

    s3 = sandbox.client("s3", emulator.endpoint, env.state.region, admin)
    bucket = env.state.bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 365
    blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(blocked.values()) and len(blocked) == 4
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    tls = {**TLS_ONLY, "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
    expected = [tls, *(_normal(s) for s in iam.state_bucket_statements(model, env))]
    assert [_normal(s) for s in policy["Statement"]] == expected

    _only_its_own_state_reaches_production(model, policy)
    dynamodb = sandbox.client("dynamodb", emulator.endpoint, env.state.region, admin)
    assert dynamodb.list_tables()["TableNames"] == []  # use_lockfile: no lock table

    # A second plan finds nothing to change.
    result = sandbox.terraform(
        root,
        "plan",
        "-detailed-exitcode",
        "-input=false",
        "-var=gitlab_project_path=group/project",
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
