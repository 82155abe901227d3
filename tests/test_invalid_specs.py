"""Hand-written broken specs: typos, wrong types, ranges, cross-field rules, broken files.

Each case names the line, the field path and words of the expectation that the
one-line message must carry; every one exits 2 and leaves no destination behind.
"""

from __future__ import annotations

import subprocess
import sys
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

CASES = [
    # id, text, line, field path, words in the expectation
    ("typo-top-level", HEAD + "scalling:\n  min: 1\n", 8, "scalling", "did you mean 'scaling'"),
    (
        "typo-nested",
        HEAD + "deployment:\n  stratgy: canary\n",
        9,
        "deployment.stratgy",
        "did you mean 'strategy'",
    ),
    (
        "typo-in-environment",
        HEAD + "environments:\n  staging:\n    scalling: {min: 1}\n",
        10,
        "environments.staging.scalling",
        "did you mean 'scaling'",
    ),
    (
        "unknown-app-field",
        HEAD.replace("  port: 8080\n", "  port: 8080\n  image: nginx\n"),
        8,
        "app.image",
        "known field",
    ),
    ("missing-name", HEAD.replace("name: orders\n", ""), 1, "name", "required"),
    (
        "missing-region",
        HEAD.replace("  region: us-west-2\n", "  account_id: '123456789012'\n"),
        3,
        "aws.region",
        "required",
    ),
    ("missing-runtime", HEAD.replace("  runtime: python\n", ""), 5, "app.runtime", "required"),
    ("port-as-string", HEAD.replace("port: 8080", "port: '8080'"), 7, "app.port", "an integer"),
    ("port-float", HEAD.replace("port: 8080", "port: 80.5"), 7, "app.port", "an integer"),
    ("scaling-not-mapping", HEAD + "scaling: 3\n", 8, "scaling", "a mapping"),
    (
        "negative-cooldown",
        HEAD + "scaling:\n  scale_in_cooldown: -5\n",
        9,
        "scaling.scale_in_cooldown",
        ">= 0",
    ),
    (
        "fargate-pair",
        HEAD + "compute:\n  cpu: 256\n  memory: 4096\n",
        10,
        "compute.memory",
        "Fargate accepts with cpu 256",
    ),
    (
        "fargate-pair-4096",
        HEAD + "compute:\n  cpu: 4096\n  memory: 4096\n",
        10,
        "compute.memory",
        "8192 to 30720",
    ),
    (
        "spot-on-arm64",
        HEAD + "compute:\n  architecture: arm64\n  spot: true\n",
        10,
        "compute.spot",
        "only with architecture x86_64",
    ),
    (
        "architecture-differs-between-environments",
        HEAD + "environments:\n  production: {}\n  dev:\n    compute: {architecture: arm64}\n",
        11,
        "environments.dev.compute.architecture",
        "one image serves every environment",
    ),
    (
        "cidr-octet-out-of-range",
        HEAD + "deployment:\n  test_listener_cidrs:\n    - 10.0.0.0/8\n    - 886.7.928.8/30\n",
        11,
        "deployment.test_listener_cidrs[1]",
        "IPv4 CIDR block",
    ),
    (
        "cidr-host-bits-set",
        HEAD + "deployment:\n  test_listener_cidrs: [10.1.2.3/16]\n",
        9,
        "deployment.test_listener_cidrs[0]",
        "a network address (10.1.0.0/16)",
    ),
    (
        "min-above-max",
        HEAD + "scaling:\n  min: 5\n  max: 3\n",
        10,
        "scaling.max",
        "scaling.min <= scaling.max",
    ),
    (
        "min-above-max-after-merge",
        HEAD + "scaling:\n  max: 3\nenvironments:\n  staging:\n    scaling: {min: 4}\n  production: {}\n",
        12,
        "environments.staging.scaling.min",
        "scaling.min <= scaling.max",
    ),
    ("canary-block-missing", HEAD + "deployment:\n  strategy: canary\n", 8, "deployment.canary", "required"),
    ("linear-block-missing", HEAD + "deployment:\n  strategy: linear\n", 8, "deployment.linear", "required"),
    (
        "canary-missing-after-merge",
        HEAD + "environments:\n  staging:\n    deployment: {strategy: canary}\n",
        10,
        "environments.staging.deployment.strategy",
        "deployment.canary block",
    ),
    (
        "canary-without-minutes",
        HEAD + "deployment:\n  strategy: canary\n  canary: {percent: 10}\n",
        10,
        "deployment.canary.minutes",
        "required",
    ),
    (
        "test-port-443",
        HEAD + "deployment:\n  test_listener_port: 443\n",
        9,
        "deployment.test_listener_port",
        "other than 80 and 443",
    ),
    (
        "test-port-80",
        HEAD + "deployment:\n  test_listener_port: 80\n",
        9,
        "deployment.test_listener_port",
        "other than 80 and 443",
    ),
    (
        "rollback-on-alarms-without-alarms",
        HEAD + "deployment:\n  alarms: {http_5xx_percent: null}\n",
        8,
        "deployment.auto_rollback.on_alarms",
        "at least one of deployment.alarms",
    ),
    (
        "health-timeout-not-below-interval",
        HEAD.replace(
            "  port: 8080\n",
            "  port: 8080\n  health_check:\n    interval_seconds: 5\n    timeout_seconds: 5\n",
        ),
        10,
        "app.health_check.timeout_seconds",
        "shorter than the interval",
    ),
    (
        "vpc-id-and-tag-key",
        HEAD + "network:\n  vpc_id: vpc-0123abcd\n  vpc_tag_key: Demo\n",
        8,
        "network",
        "either vpc_id or vpc_tag_key",
    ),
    ("dns-without-zone", HEAD + "dns:\n  record: www\n", 8, "dns.zone", "required"),
    (
        "dns-zone-missing-after-merge",
        HEAD + "environments:\n  staging:\n    dns: {record: www}\n",
        10,
        "environments.staging.dns",
        "dns.zone",
    ),
    (
        "same-hostname-twice",
        HEAD + "dns: {zone: example.com, record: www}\nenvironments:\n  staging: {}\n  production: {}\n",
        8,
        "dns.record",
        "a DNS name of its own",
    ),
    (
        "variable-in-env-and-secrets",
        HEAD.replace(
            "  port: 8080\n",
            "  port: 8080\n  environment: {TOKEN: x}\n  secrets:\n"
            "    TOKEN: arn:aws:ssm:us-west-2:123456789012:parameter/t\n",
        ),
        10,
        "app.secrets.TOKEN",
        "not both",
    ),
    (
        "secret-not-an-arn",
        HEAD.replace("  port: 8080\n", "  port: 8080\n  secrets:\n    DB_PASSWORD: hunter2\n"),
        9,
        "app.secrets.DB_PASSWORD",
        "ARN of an SSM parameter",
    ),
    (
        "role-with-access-keys",
        HEAD + "ci:\n  aws_auth: access_keys\n  role_arn: arn:aws:iam::123456789012:role/x\n",
        10,
        "ci.role_arn",
        "used by oidc only",
    ),
    (
        "name-too-long-for-environment",
        HEAD.replace("name: orders", "name: order-fulfilment-svc") + "environments:\n  production: {}\n",
        2,
        "name",
        "target group blue",
    ),
    (
        "name-over-24",
        HEAD.replace("name: orders", "name: a-very-long-service-name-x"),
        2,
        "name",
        "at most 24",
    ),
    ("name-uppercase", HEAD.replace("name: orders", "name: Orders"), 2, "name", "lowercase"),
    ("name-trailing-hyphen", HEAD.replace("name: orders", "name: orders-"), 2, "name", "not ending with '-'"),
    (
        "duplicate-environment",
        HEAD + "environments:\n  staging: {}\n  staging: {}\n",
        10,
        "environments.staging",
        "each key once",
    ),
    ("duplicate-block", HEAD + "aws:\n  region: eu-west-1\n", 8, "aws", "each key once"),
    (
        "environment-name-uppercase",
        HEAD + "environments:\n  Staging: {}\n",
        9,
        "environments.Staging",
        "environment name",
    ),
    ("environments-empty", HEAD + "environments: {}\n", 8, "environments", "at least 1 entry"),
    (
        "environment-overrides-name",
        HEAD + "environments:\n  staging:\n    name: other\n",
        10,
        "environments.staging.name",
        "known field",
    ),
    (
        "schema-version-2",
        HEAD.replace("schema_version: 1", "schema_version: 2"),
        1,
        "schema_version",
        "expected 1",
    ),
    (
        "reserved-tag",
        HEAD + "tags:\n  Service: other\n",
        9,
        "tags.Service",
        "not one of the keys bluegreen sets",
    ),
    ("tag-value-boolean", HEAD + "tags:\n  Public: no\n", 9, "tags.Public", "'no' quoted for a string"),
    (
        "account-id-number",
        HEAD.replace("  region: us-west-2\n", "  region: us-west-2\n  account_id: 123456789012\n"),
        5,
        "aws.account_id",
        "quoted string",
    ),
    ("state-without-bucket", HEAD + "state:\n  key_prefix: teams/a\n", 8, "state.bucket", "required"),
    (
        "command-empty",
        HEAD.replace("  port: 8080\n", "  port: 8080\n  command: []\n"),
        8,
        "app.command",
        "at least 1 item",
    ),
    (
        "cidr-list-string",
        HEAD + "deployment:\n  test_listener_cidrs: 10.0.0.0/8\n",
        9,
        "deployment.test_listener_cidrs",
        "a list or null",
    ),
]

BROKEN_FILES = [
    # id, text, line, words in the found part
    ("not-yaml", "name: [unclosed\n", 2, "valid YAML"),
    ("top-level-list", "- schema_version: 1\n", 1, "found a list"),
    ("top-level-scalar", "just text\n", 1, "found string"),
    ("empty-file", "", 1, "an empty document"),
    ("tab-indent", "aws:\n\tregion: us-west-2\n", 2, "valid YAML"),
    ("two-documents", HEAD + "---\n" + HEAD, 8, "valid YAML"),
    ("python-tag", "name: !!python/name:os.system\n", 1, "a plain YAML value"),
    ("integer-key", HEAD + "1: one\n", 8, "string keys"),
]


def run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], Path, Path]:
    file = tmp_path / "service.yaml"
    file.write_text(text)
    dest = tmp_path / "out"
    code = main(["new", str(file), str(dest)])
    return code, capsys.readouterr().err.strip().splitlines(), file, dest


@pytest.mark.parametrize(("text", "line", "path", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_spec(tmp_path, capsys, text, line, path, words):
    code, lines, file, dest = run(tmp_path, text, capsys)
    assert code == 2
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == [file], "nothing but the spec is left behind"
    matching = [m for m in lines if m.startswith(f"{file}:{line}:") and f": {path}: expected " in m]
    assert matching, f"wanted {path} at line {line}, got {lines}"
    assert words in matching[0], matching[0]
    assert ", found " in matching[0]


@pytest.mark.parametrize(
    ("text", "line", "words"), [c[1:] for c in BROKEN_FILES], ids=[c[0] for c in BROKEN_FILES]
)
def test_broken_file(tmp_path, capsys, text, line, words):
    code, lines, file, dest = run(tmp_path, text, capsys)
    assert code == 2
    assert not dest.exists()
    assert len(lines) == 1 or all(m.startswith(str(file)) for m in lines)
    assert lines[0].startswith(f"{file}:{line}:"), lines
    assert words in lines[0]


def test_at_least_25_invalid_cases():
    assert len(CASES) + len(BROKEN_FILES) >= 25


def test_several_problems_are_all_reported(tmp_path, capsys):
    text = HEAD.replace("port: 8080", "port: 0") + "scalling: {}\ncompute: {cpu: 3}\n"
    code, lines, _, _ = run(tmp_path, text, capsys)
    assert code == 2
    assert [m.split(": ")[1] for m in lines] == ["app.port", "scalling", "compute.cpu"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["validate", "does-not-exist.yaml"], "no such file"),
        (["validate", "."], "a directory"),
        (["new", "does-not-exist.yaml", "out"], "no such file"),
    ],
)
def test_unreadable_input(tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_undecodable_file(tmp_path, capsys):
    file = tmp_path / "service.yaml"
    file.write_bytes(b"name: \xff\xfe\n")
    assert main(["validate", str(file)]) == 2
    assert "UTF-8" in capsys.readouterr().err


def test_console_script_never_prints_a_traceback(tmp_path):
    """The installed entry point, as a user runs it, on a broken file."""
    file = tmp_path / "service.yaml"
    file.write_text("name: [\n")
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", "new", str(file), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
