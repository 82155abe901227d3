"""The account bootstrap root (deploy/terraform/bootstrap/ENV): what an administrator applies once.

It must validate for every spec and environment, carry the same documents as `bluegreen
policy` and the README, and apply against the emulator: the deploy role with its trust
policy and managed policies, the boundary, and for a spec with `state:` a state bucket
that is versioned, encrypted, private and TLS only (state is locked by a lock file in it).
tests/test_iam_lifecycle.py then deploys with the role this root makes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bluegreen import iam
from bluegreen.emulator import sandbox
from bluegreen.validate import validate_file

from tests.support.rendering import SPECS, rendered, spec_id

pytestmark = pytest.mark.terraform

ENVIRONMENTS = [(spec, env) for spec in SPECS for env in validate_file(spec).environments]
FULL = next(spec for spec in SPECS if spec.stem == "full")


def _root(repo: Path, env_name: str) -> Path:
    return repo / "deploy" / "terraform" / "bootstrap" / env_name


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
    main = (root / "main.tf").read_text()
    first_with_bucket = (
        env.state
        and next(e for e in model.environments if e.state and e.state.bucket == env.state.bucket).name
        == env.name
    )
    assert ('resource "aws_s3_bucket" "state"' in main) == bool(first_with_bucket)


def test_bootstrap_roots_validate(terraform_toolchain, tmp_path):
    for spec, env in ENVIRONMENTS:
        root = shutil.copytree(_root(rendered(spec), env.name), tmp_path / f"{spec_id(spec)}-{env.name}")
        sandbox.terraform(root, "init", "-backend=false")
        sandbox.terraform(root, "validate")


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
    (tls,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
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
