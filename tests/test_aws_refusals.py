"""Specs the emulator would deploy but real AWS (or git) refuses: each is one located line, exit 2.

Every case says which page of AWS (or git) documentation the refusal rests on. The rules
are the validator's (generator/rules.py, schema/service.schema.json), checked through the
command line a user runs; nothing here needs terraform or the emulator.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bluegreen.cli import main

HEAD = """\
schema_version: 1
name: orders
aws:
  region: us-west-2
app:
  runtime: python
  port: 8080
"""  # lines 1-7; cases append from line 8 on

PROD = "123456789012"
STAGING = "210987654321"
ROLE = f"arn:aws:iam::{PROD}:role/gitlab-deployer"
SECRET = f"arn:aws:secretsmanager:us-west-2:{PROD}:secret:orders/db-AbCdEf"
PARAMETER = f"arn:aws:ssm:us-west-2:{PROD}:parameter/orders/api-key"


def accounts(*, top: str | None = PROD, staging: str | None = STAGING, staging_extra: str = "") -> str:
    """HEAD with a top-level account and role and a staging environment in another account."""
    text = (
        HEAD.replace("  region: us-west-2\n", f'  region: us-west-2\n  account_id: "{top}"\n')
        if top
        else HEAD
    )
    text += f"ci:\n  role_arn: {ROLE}\nenvironments:\n  staging:\n"
    text += f'    aws: {{account_id: "{staging}"}}\n' if staging else "    scaling: {min: 1}\n"
    return text + staging_extra + "  production: {}\n"


def with_secrets(text: str) -> str:
    return text.replace(
        "  port: 8080\n", f"  port: 8080\n  secrets:\n    DB_PASSWORD: {SECRET}\n    API_KEY: {PARAMETER}\n"
    )


CASES = [
    # id, text, line, field path, words in the expectation
    #
    # Accounts. The deploy jobs assume ci.role_arn with AssumeRoleWithWebIdentity, and the
    # provider of each root pins aws.account_id with allowed_account_ids: Terraform stops
    # with "AWS account ID not allowed" in any other account.
    #   "Terraform AWS Provider の allowed_account_ids でオペミスを防ぐ",
    #   https://dev.classmethod.jp/articles/terraform-aws-provider-allowed-account-ids
    #   "Terraform: Patterns and Anti-Patterns [Part 2] - Account Constraints",
    #   https://bradcod.es/post/terraform-patterns-and-anti-patterns-2-account-constraints/
    (
        "staging-inherits-production-role",
        accounts(),
        12,  # the staging environment, where its ci.role_arn override belongs
        "environments.staging.ci.role_arn",
        f"a deploy role of account {STAGING} for environment staging",
    ),
    (
        "staging-overrides-with-a-role-of-another-account",
        accounts(staging_extra=f"    ci: {{role_arn: arn:aws:iam::{PROD}:role/staging-deployer}}\n"),
        14,
        "environments.staging.ci.role_arn",
        f"a role of account {STAGING} (the aws.account_id of environment staging)",
    ),
    (
        "top-level-role-of-another-account",
        HEAD.replace("  region: us-west-2\n", f'  region: us-west-2\n  account_id: "{STAGING}"\n')
        + f"ci:\n  role_arn: {ROLE}\n",
        10,
        "ci.role_arn",
        f"allowed_account_ids [{STAGING}] refuses",
    ),
    (
        "staging-in-its-own-account-without-a-top-level-account",
        accounts(top=None),
        11,
        "environments.staging.ci.role_arn",
        "it inherits the top-level ci.role_arn",
    ),
    # Secrets of another account. A task's execution role reads Secrets Manager secrets of
    # another account only where the secret's resource policy and a customer-managed KMS key
    # allow it (the AWS managed key cannot be shared); otherwise the task stops with
    # ResourceInitializationError. Where it is shared, staging reads production's value.
    #   "Access AWS Secrets Manager secrets from a different account - AWS Secrets Manager",
    #   https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples_cross.html
    #   "Secret - Amazon Elastic Container Service" (valueFrom: the full ARN of the secret),
    #   https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Secret.html
    (
        "staging-inherits-production-secret",
        with_secrets(accounts(staging_extra=f"    ci: {{role_arn: arn:aws:iam::{STAGING}:role/d}}\n")),
        15,
        "environments.staging.app.secrets.DB_PASSWORD",
        f"a secret of account {STAGING} for environment staging",
    ),
    (
        "staging-inherits-production-parameter",
        with_secrets(accounts(staging_extra=f"    ci: {{role_arn: arn:aws:iam::{STAGING}:role/d}}\n")),
        15,
        "environments.staging.app.secrets.API_KEY",
        "ResourceInitializationError",
    ),
    # Test listener. The load balancer is internet-facing: its nodes have public addresses
    # only, so a client inside the VPC reaches it through its NAT gateway, which replaces the
    # client's address with its own public one. The default source, the VPC's CIDR block,
    # matches nobody: an approval wait needs the addresses green is tried from.
    #   "CreateLoadBalancer, Scheme" (Elastic Load Balancing v2 API): "The nodes of an
    #   Internet-facing load balancer have public IP addresses",
    #   https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
    #   "NAT gateways - Amazon Virtual Private Cloud",
    #   https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html
    (
        "approval-without-test-cidrs",
        HEAD + "deployment:\n  approval_timeout_minutes: 30\n",
        9,
        "deployment.approval_timeout_minutes",
        "deployment.test_listener_cidrs with an approval wait",
    ),
    (
        "approval-in-one-environment-without-test-cidrs",
        HEAD
        + "environments:\n  staging:\n    deployment: {approval_timeout_minutes: 10}\n  production: {}\n",
        10,
        "environments.staging.deployment.approval_timeout_minutes",
        "NAT gateway's public address",
    ),
]


def run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], Path]:
    file = tmp_path / "service.yaml"
    file.write_text(text)
    code = main(["new", str(file), str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err.splitlines(), file


def validates(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> bool:
    file = tmp_path / "ok.yaml"
    file.write_text(text)
    code = main(["validate", str(file)])
    err = capsys.readouterr().err
    assert code == 0 or err, err
    return code == 0


@pytest.mark.parametrize(("text", "line", "path", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_aws_would_refuse(tmp_path, capsys, text, line, path, words):
    code, lines, file = run(tmp_path, text, capsys)

    assert code == 2
    assert list(tmp_path.iterdir()) == [file], "nothing but the spec is left behind"
    matching = [m for m in lines if f": {path}: expected " in m]
    assert matching, f"wanted {path}, got {lines}"
    assert matching[0].startswith(f"{file}:{line}:"), matching[0]
    assert words in matching[0] and ", found " in matching[0], matching[0]
    assert all(m.startswith(f"{file}:") for m in lines), lines


def test_every_account_problem_at_once(tmp_path, capsys):
    """The role and both secrets of staging: three lines in one run."""
    code, lines, _ = run(tmp_path, with_secrets(accounts()), capsys)

    assert code == 2
    assert [m.split(": ")[1] for m in lines] == [
        "environments.staging.app.secrets.API_KEY",
        "environments.staging.app.secrets.DB_PASSWORD",
        "environments.staging.ci.role_arn",
    ]


def test_environments_of_their_own_account_with_their_own_role_and_secrets_are_valid(tmp_path, capsys):
    own = (
        f"    ci: {{role_arn: arn:aws:iam::{STAGING}:role/gitlab-deployer}}\n"
        "    app:\n      secrets:\n"
        f"        DB_PASSWORD: arn:aws:secretsmanager:us-west-2:{STAGING}:secret:orders/db-GhIjKl\n"
        f"        API_KEY: arn:aws:ssm:us-west-2:{STAGING}:parameter/orders/api-key\n"
    )
    assert validates(tmp_path, with_secrets(accounts(staging_extra=own)), capsys)
    # null: staging's jobs read the role from the CI/CD variable AWS_ROLE_ARN of their scope.
    assert validates(tmp_path, accounts(staging_extra="    ci: {role_arn: null}\n"), capsys)
    # One account for every environment: nothing to override.
    assert validates(tmp_path, with_secrets(accounts(staging=None)), capsys)


def test_a_secret_an_environment_names_itself_may_be_of_another_account(tmp_path, capsys):
    """Shared on purpose (a resource policy and a KMS key of its own): the environment wrote it."""
    shared = (
        f"    ci: {{role_arn: arn:aws:iam::{STAGING}:role/d}}\n"
        f"    app:\n      secrets: {{DB_PASSWORD: {SECRET}, API_KEY: {PARAMETER}}}\n"
    )
    assert validates(tmp_path, with_secrets(accounts(staging_extra=shared)), capsys)


def test_an_approval_wait_with_test_cidrs_is_valid_and_explained(tmp_path, capsys):
    text = HEAD + "deployment:\n  approval_timeout_minutes: 30\n  test_listener_cidrs: [198.51.100.0/24]\n"
    assert validates(tmp_path, text, capsys)
    assert main(["explain", str(tmp_path / "ok.yaml")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "serves green during a deployment; reachable from 198.51.100.0/24" in out


def test_explain_says_the_default_test_listener_admits_nobody(tmp_path, capsys):
    assert validates(tmp_path, HEAD, capsys)
    assert main(["explain", str(tmp_path / "ok.yaml")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "open to the VPC's CIDR block only, which no client matches" in out
    assert "set deployment.test_listener_cidrs to try green" in out
