"""Specs the emulator would deploy but real AWS (or git) refuses: each is one located line, exit 2.

Every case says which page of AWS (or git) documentation the refusal rests on. The rules
are the validator's (generator/rules.py, schema/service.schema.json), checked through the
command line a user runs; nothing here needs terraform or the emulator.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bluegreen.cli import main
from bluegreen.rules import branch_name_problem

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
    # Names AWS refuses, checked on the name AWS sees (generator/model.py resource_names:
    # SERVICE-ENV for the load balancer and the ECR repository, SERVICE-ENV-alb and
    # SERVICE-ENV-service for the security groups).
    #   "CreateSecurityGroup, GroupName": "Constraints: Up to 255 characters in length. Can't
    #   start with sg-.", https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
    (
        "security-group-sg-prefix",
        HEAD.replace("name: orders", "name: sg-orders"),
        2,
        "name",
        "'sg-orders-production-alb'",
    ),
    #   "CreateLoadBalancer, Name" (ELBv2): "must not begin with 'internal-'",
    #   https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
    (
        "load-balancer-internal-prefix",
        HEAD.replace("name: orders", "name: internal-api"),
        2,
        "name",
        "refuses load balancer names starting with internal-",
    ),
    #   "Repository - Amazon Elastic Container Registry", repositoryName pattern
    #   (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*,
    #   https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_Repository.html
    ("ecr-double-hyphen", HEAD.replace("name: orders", "name: pay--api"), 2, "name", "'pay--api-production'"),
    #   "RequestCertificate, DomainName" (ACM): "In compliance with RFC 5280, the length of the
    #   domain name (technically, the Common Name) that you provide cannot exceed 64 octets",
    #   https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html
    (
        "certificate-name-over-64",
        HEAD + "dns:\n  zone: a-rather-long-zone-name-of-the-company-x.example.com\n  record: payments-api\n",
        10,
        "dns.record",
        "(65 characters)",
    ),
    (
        "certificate-name-over-64-by-default-record",
        HEAD.replace("name: orders", "name: payments-gwy")
        + "dns:\n  zone: a-rather-long-zone-name-of-the-company-x.example.com\n",
        9,
        "dns.zone",
        "ACM refuses a longer domain name",
    ),
    #   "General purpose bucket naming rules - Amazon Simple Storage Service",
    #   https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    (
        "bucket-like-ip",
        HEAD + "state:\n  bucket: 192.168.5.4\n",
        9,
        "state.bucket",
        "the form of an IP address",
    ),
    (
        "bucket-adjacent-periods",
        HEAD + "state:\n  bucket: tf..state\n",
        9,
        "state.bucket",
        "two adjacent periods",
    ),
    (
        "bucket-xn-prefix",
        HEAD + "state:\n  bucket: xn--state\n",
        9,
        "state.bucket",
        "the reserved prefix xn--",
    ),
    (
        "bucket-s3alias-suffix",
        HEAD + "state:\n  bucket: tf-state-s3alias\n",
        9,
        "state.bucket",
        "the reserved suffix -s3alias",
    ),
    #   "Tag - Amazon Elastic Container Service": "Maximum number of tags per resource - 50 ...
    #   Do not use aws:, AWS:, or any upper or lowercase combination of such as a prefix for
    #   either keys or values", https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Tag.html
    ("tag-key-aws-prefix", HEAD + "tags:\n  aws:team: x\n", 9, "tags.aws:team", "not starting with 'aws:'"),
    ("tag-key-AWS-prefix", HEAD + "tags:\n  AWS:team: x\n", 9, "tags.AWS:team", "in any case"),
    ("tag-value-aws-prefix", HEAD + "tags:\n  Team: 'Aws:x'\n", 9, "tags.Team", "not starting with 'aws:'"),
    ("owner-aws-prefix", HEAD + "owner: 'aws:platform'\n", 8, "owner", "not starting with 'aws:'"),
    (
        "more-than-50-tags-once-merged",
        HEAD
        + "tags:\n"
        + "".join(f"  T{n}: x\n" for n in range(40))
        + "environments:\n  production:\n    tags:\n"
        + "".join(f"      E{n}: x\n" for n in range(7)),
        51,
        "environments.production.tags",
        "at most 46 tags: AWS takes 50 per resource and bluegreen adds Service, Environment, ManagedBy, Name",
    ),
    #   git-check-ref-format(1): "no slash-separated component can begin with a dot . or end with
    #   the sequence .lock", "cannot have two consecutive dots", "cannot begin or end with a
    #   slash / or contain multiple consecutive slashes", "cannot end with a dot",
    #   https://www.kernel.org/doc/man-pages/online/pages/man1/git-check-ref-format.1.html
    (
        "branch-dot-component",
        HEAD + "ci:\n  deploy_branch: release/.next\n",
        9,
        "ci.deploy_branch",
        "starting with '.'",
    ),
    ("branch-lock", HEAD + "ci:\n  deploy_branch: main.lock\n", 9, "ci.deploy_branch", "ending with '.lock'"),
    (
        "branch-double-dot",
        HEAD + "ci:\n  deploy_branch: a..b\n",
        9,
        "ci.deploy_branch",
        "two consecutive dots",
    ),
    (
        "branch-trailing-slash",
        HEAD + "ci:\n  deploy_branch: release/\n",
        9,
        "ci.deploy_branch",
        "empty component",
    ),
    ("branch-head", HEAD + "ci:\n  deploy_branch: HEAD\n", 9, "ci.deploy_branch", "the name HEAD"),
    ("branch-leading-dash", HEAD + "ci:\n  deploy_branch: -main\n", 9, "ci.deploy_branch", "a leading '-'"),
    # The deploy role: the bootstrap root creates aws_iam_role.deployer with the name of
    # ci.role_arn and no path (path /), and the state bucket's policy names
    # arn:aws:iam::ACCOUNT:role/NAME; a role ARN with a path is another role.
    #   "IAM identifiers" (friendly names and paths; a path is part of the ARN),
    #   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html
    (
        "role-with-path",
        HEAD + f"ci:\n  role_arn: arn:aws:iam::{PROD}:role/teams/payments/deployer\n",
        9,
        "ci.role_arn",
        "the bootstrap creates the deploy role deployer at path /",
    ),
    (
        "environment-role-with-path",
        HEAD
        + f"environments:\n  production:\n    ci: {{role_arn: 'arn:aws:iam::{PROD}:role/ci/deployer'}}\n",
        10,
        "environments.production.ci.role_arn",
        "found the path /ci/",
    ),
    # One image for every environment: the build stage builds it once from the top-level
    # runtime's Dockerfile (EXPOSE and PORT of the top-level app.port), and promotion copies
    # that image to the next environment unchanged. An environment's own runtime would never
    # be built; its own port would get a target group and health checks the container does
    # not answer: the deployment fails its health checks and rolls back.
    #   "Health checks for Application Load Balancer target groups" (targets must answer on
    #   the health check port), https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
    (
        "runtime-differs-in-an-environment",
        HEAD + "environments:\n  staging:\n    app: {runtime: node}\n  production: {}\n",
        10,
        "environments.staging.app.runtime",
        "one image is built once and promoted through every environment",
    ),
    (
        "port-differs-in-an-environment",
        HEAD + "environments:\n  staging:\n    app: {port: 9000}\n  production: {}\n",
        10,
        "environments.staging.app.port",
        "the top-level app.port (8080)",
    ),
    (
        "port-differs-in-every-environment",
        HEAD + "environments:\n  production:\n    app: {port: 9000}\n",
        10,
        "environments.production.app.port",
        "baked into it",
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


def test_fifty_tags_in_all_are_valid(tmp_path, capsys):
    """46 of the spec's and bluegreen's Service, Environment, ManagedBy and Name: 50, the limit."""
    text = HEAD + "tags:\n" + "".join(f"  T{n}: x\n" for n in range(40))
    text += "environments:\n  production:\n    tags:\n" + "".join(f"      E{n}: x\n" for n in range(6))
    assert validates(tmp_path, text, capsys)


def test_names_aws_accepts_stay_valid(tmp_path, capsys):
    ok = (
        HEAD.replace("name: orders", "name: sgx-internal")
        + "dns:\n  zone: a-rather-long-zone-name-of-the-company-x.example.com\n  record: payments-ap\n"
        + "state:\n  bucket: tf.state-192.168.5.4\n"
        + f"ci:\n  deploy_branch: release/2024.06\n  role_arn: arn:aws:iam::{PROD}:role/deployer\n"
        + "tags:\n  Team: payments-aws:core\n"
    )
    assert validates(tmp_path, ok, capsys)
    # A certificate's name only matters with HTTPS: without it, the long name is fine.
    plain = (
        HEAD + "dns:\n  zone: a-rather-long-zone-name-of-the-company-x.example.com\n  record: payments-api\n"
    )
    assert validates(tmp_path, plain + "  https: false\n", capsys)


BRANCHES = [
    "main",
    "release/2024.06",
    "feature/a-b_c",
    "x/HEAD",
    "HEAD",
    "-main",
    "a..b",
    "a/.b",
    ".a",
    "a.lock",
    "a.lock/b",
    "a/b.lock",
    "a.lockx",
    "a/",
    "/a",
    "a//b",
    "a.",
    "a.b.",
    "a@{b",
    "a b",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[b",
    "a\\b",
    "a\tb",
    "_",
    "1.0",
    "v1.0/.x/y",
]


@pytest.mark.parametrize("name", BRANCHES)
def test_branch_rules_are_gits(tmp_path, name):
    """The validator refuses exactly the names the real git refuses as branch names."""
    git = subprocess.run(
        ["git", "check-ref-format", "--branch", name], cwd=tmp_path, capture_output=True, check=False
    )
    assert (branch_name_problem(name) is None) == (git.returncode == 0), (name, branch_name_problem(name))


def test_an_environment_may_repeat_the_top_level_runtime_and_port(tmp_path, capsys):
    text = HEAD + "environments:\n  staging:\n    app: {runtime: python, port: 8080, health_check_path: /s}\n"
    assert validates(tmp_path, text, capsys)


# Inputs that raised a traceback or hung: the installed command line, one line, exit 2.

ONE_LINE_ERROR = r"^{file}(:\d+:\d+)?: \S+: expected .+, found .+\n$"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,  # a guard against a hang (a FIFO used to block open() forever)
    )


TAGGED = [
    # YAML 1.1's constructors raise (KeyError, IndexError, ValueError) on an explicit tag over
    # text of another kind; each is one located line naming the tag.
    ('port: !!bool ""', "app.port", "the tag !!bool on text that is no boolean", 'found !!bool ""'),
    ("port: !!bool maybe", "app.port", "the tag !!bool", "found maybe"),
    ("port: !!int x", "app.port", "the tag !!int on text that is no integer", "found x"),
    ('port: !!int ""', "app.port", "the tag !!int", 'found !!int ""'),
    ('port: !!int "+"', "app.port", "the tag !!int", "found +"),
    ("port: !!float x", "app.port", "the tag !!float on text that is no number", "found x"),
    ('port: !!float ""', "app.port", "the tag !!float", 'found !!float ""'),
]


@pytest.mark.parametrize(("line", "path", "expected", "found"), TAGGED, ids=[t[0] for t in TAGGED])
def test_explicit_yaml_tags_are_one_line(tmp_path, line, path, expected, found):
    spec = tmp_path / "service.yaml"
    spec.write_text(HEAD.replace("port: 8080", line))

    result = cli("new", str(spec), str(tmp_path / "out"), cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.match(ONE_LINE_ERROR.format(file=re.escape(str(spec))), result.stderr), result.stderr
    assert result.stderr.startswith(f"{spec}:7:9: {path}: expected ")
    assert expected in result.stderr and result.stderr.rstrip().endswith(found), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service.yaml"]


def test_a_named_pipe_as_spec_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "service.yaml"
    os.mkfifo(fifo)
    for command in (["validate", str(fifo)], ["new", str(fifo), str(tmp_path / "out")]):
        result = cli(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"{fifo}: (document): expected a regular file, found a named pipe\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service.yaml"]


def test_a_directory_as_spec_is_one_line(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    for command in (
        ["validate", str(folder)],
        ["new", str(folder), str(tmp_path / "out")],
        ["explain", str(folder)],
    ):
        result = cli(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"{folder}: (document): expected a service.yaml file, found a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["specs"]
