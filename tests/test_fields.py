"""Every field of service.yaml v1: one valid and one invalid value each.

Each case patches a minimal valid spec. Invalid cases must exit 2 naming the
field and the line where the offending key stands in the file.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from bluegreen.cli import main

BASE: dict[str, Any] = {
    "schema_version": 1,
    "name": "svc",
    "aws": {"region": "us-west-2"},
    "app": {"runtime": "python", "port": 8080},
}
ARN_SSM = "arn:aws:ssm:us-west-2:123456789012:parameter/svc/token"
ARN_SM = "arn:aws:secretsmanager:us-west-2:123456789012:secret:svc/db-AbC123"

# (field path reported, valid patch, invalid patch, words the expectation must contain)
FIELDS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("schema_version", {"schema_version": 1}, {"schema_version": 2}, "expected 1"),
    ("name", {"name": "orders-v2"}, {"name": "Orders_V2"}, "lowercase letters"),
    ("description", {"description": "Orders"}, {"description": 42}, "a string"),
    ("owner", {"owner": "team-orders"}, {"owner": "team|orders"}, "tag value"),
    ("tags.CostCenter", {"tags": {"CostCenter": "1234"}}, {"tags": {"CostCenter": 1234}}, "tag value string"),
    ("tags.aws:x", {"tags": {"Team": "a"}}, {"tags": {"aws:x": "a"}}, "tag key"),
    ("aws.region", {"aws": {"region": "eu-central-1"}}, {"aws": {"region": "mars-north"}}, "AWS region"),
    (
        "aws.account_id",
        {"aws": {"account_id": "123456789012"}},
        {"aws": {"account_id": 123456789012}},
        "12-digit",
    ),
    (
        "network.vpc_tag_key",
        {"network": {"vpc_tag_key": "Shared"}},
        {"network": {"vpc_tag_key": ""}},
        "at least 1",
    ),
    ("network.vpc_id", {"network": {"vpc_id": "vpc-0123abcd"}}, {"network": {"vpc_id": "vpc-XYZ"}}, "VPC id"),
    (
        "network.private_subnet_tags",
        {"network": {"private_subnet_tags": {"Tier": "app"}}},
        {"network": {"private_subnet_tags": {}}},
        "at least 1",
    ),
    (
        "network.public_subnet_tags",
        {"network": {"public_subnet_tags": {"Tier": "web"}}},
        {"network": {"public_subnet_tags": ["Public"]}},
        "a mapping",
    ),
    ("dns.zone", {"dns": {"zone": "example.com"}}, {"dns": {"zone": "Example Com"}}, "DNS zone"),
    (
        "dns.record",
        {"dns": {"zone": "example.com", "record": "@"}},
        {"dns": {"zone": "example.com", "record": "a b"}},
        "DNS label",
    ),
    (
        "dns.https",
        {"dns": {"zone": "example.com", "https": False}},
        {"dns": {"zone": "example.com", "https": "yes"}},
        "true or false",
    ),
    ("app.runtime", {"app": {"runtime": "go"}}, {"app": {"runtime": "ruby"}}, "one of"),
    ("app.port", {"app": {"port": 3000}}, {"app": {"port": 70000}}, "<= 65535"),
    (
        "app.health_check_path",
        {"app": {"health_check_path": "/healthz"}},
        {"app": {"health_check_path": "healthz"}},
        "starting with '/'",
    ),
    (
        "app.health_check.interval_seconds",
        {"app": {"health_check": {"interval_seconds": 30}}},
        {"app": {"health_check": {"interval_seconds": 1}}},
        ">= 5",
    ),
    (
        "app.health_check.timeout_seconds",
        {"app": {"health_check": {"timeout_seconds": 3}}},
        {"app": {"health_check": {"timeout_seconds": 1}}},
        ">= 2",
    ),
    (
        "app.health_check.healthy_threshold",
        {"app": {"health_check": {"healthy_threshold": 3}}},
        {"app": {"health_check": {"healthy_threshold": 11}}},
        "<= 10",
    ),
    (
        "app.health_check.unhealthy_threshold",
        {"app": {"health_check": {"unhealthy_threshold": 2}}},
        {"app": {"health_check": {"unhealthy_threshold": "3"}}},
        "an integer",
    ),
    (
        "app.command",
        {"app": {"command": ["python", "app.py"]}},
        {"app": {"command": "python app.py"}},
        "a list or null",
    ),
    (
        "app.environment.9LIVES",
        {"app": {"environment": {"LIVES": 9}}},
        {"app": {"environment": {"9LIVES": "x"}}},
        "environment variable name",
    ),
    (
        "app.environment.MODE",
        {"app": {"environment": {"MODE": "fast"}}},
        {"app": {"environment": {"MODE": ["a"]}}},
        "a string, a number or true or false",
    ),
    (
        "app.secrets.DB",
        {"app": {"secrets": {"DB": ARN_SM, "TOKEN": ARN_SSM}}},
        {"app": {"secrets": {"DB": "hunter2"}}},
        "ARN",
    ),
    ("compute.cpu", {"compute": {"cpu": 1024, "memory": 2048}}, {"compute": {"cpu": 300}}, "one of 256"),
    ("compute.memory", {"compute": {"memory": 2048}}, {"compute": {"memory": 256}}, ">= 512"),
    (
        "compute.architecture",
        {"compute": {"architecture": "arm64"}},
        {"compute": {"architecture": "aarch64"}},
        "one of",
    ),
    ("compute.spot", {"compute": {"spot": True}}, {"compute": {"spot": "sometimes"}}, "true or false"),
    ("scaling.min", {"scaling": {"min": 1}}, {"scaling": {"min": 0}}, ">= 1"),
    ("scaling.max", {"scaling": {"max": 20}}, {"scaling": {"max": 1001}}, "<= 1000"),
    ("scaling.cpu_target", {"scaling": {"cpu_target": None}}, {"scaling": {"cpu_target": 101}}, "<= 100"),
    ("scaling.memory_target", {"scaling": {"memory_target": 80}}, {"scaling": {"memory_target": 0}}, ">= 1"),
    (
        "scaling.requests_per_target",
        {"scaling": {"requests_per_target": 500}},
        {"scaling": {"requests_per_target": 1.5}},
        "an integer",
    ),
    (
        "scaling.scale_in_cooldown",
        {"scaling": {"scale_in_cooldown": 0}},
        {"scaling": {"scale_in_cooldown": -1}},
        ">= 0",
    ),
    (
        "scaling.scale_out_cooldown",
        {"scaling": {"scale_out_cooldown": 30}},
        {"scaling": {"scale_out_cooldown": 3601}},
        "<= 3600",
    ),
    (
        "deployment.strategy",
        {"deployment": {"strategy": "all_at_once"}},
        {"deployment": {"strategy": "big_bang"}},
        "one of",
    ),
    (
        "deployment.canary.percent",
        {"deployment": {"strategy": "canary", "canary": {"percent": 10, "minutes": 5}}},
        {"deployment": {"strategy": "canary", "canary": {"percent": 100, "minutes": 5}}},
        "<= 99",
    ),
    (
        "deployment.linear.minutes",
        {"deployment": {"strategy": "linear", "linear": {"percent": 10, "minutes": 1}}},
        {"deployment": {"strategy": "linear", "linear": {"percent": 10, "minutes": 0}}},
        ">= 1",
    ),
    (
        "deployment.test_listener_port",
        {"deployment": {"test_listener_port": 9443}},
        {"deployment": {"test_listener_port": 0}},
        ">= 1",
    ),
    (
        "deployment.test_listener_cidrs[0]",
        {"deployment": {"test_listener_cidrs": ["10.0.0.0/8"]}},
        {"deployment": {"test_listener_cidrs": ["10.0.0.0"]}},
        "CIDR",
    ),
    (
        "deployment.approval_timeout_minutes",
        {"deployment": {"approval_timeout_minutes": 60, "test_listener_cidrs": ["198.51.100.0/24"]}},
        {"deployment": {"approval_timeout_minutes": 2881, "test_listener_cidrs": ["198.51.100.0/24"]}},
        "<= 2880",
    ),
    (
        "deployment.blue_termination_minutes",
        {"deployment": {"blue_termination_minutes": 0}},
        {"deployment": {"blue_termination_minutes": "5m"}},
        "an integer",
    ),
    (
        "deployment.deregistration_delay_seconds",
        {"deployment": {"deregistration_delay_seconds": 0}},
        {"deployment": {"deregistration_delay_seconds": 3601}},
        "<= 3600",
    ),
    (
        "deployment.auto_rollback.on_failure",
        {"deployment": {"auto_rollback": {"on_failure": False}}},
        {"deployment": {"auto_rollback": {"on_failure": "no way"}}},
        "true or false",
    ),
    (
        "deployment.auto_rollback.on_alarms",
        {"deployment": {"auto_rollback": {"on_alarms": False}}},
        {"deployment": {"auto_rollback": {"on_alarms": 1}}},
        "true or false",
    ),
    (
        "deployment.alarms.http_5xx_percent",
        {"deployment": {"alarms": {"http_5xx_percent": 0.5}}},
        {"deployment": {"alarms": {"http_5xx_percent": 0}}},
        "> 0",
    ),
    (
        "deployment.alarms.p99_latency_ms",
        {"deployment": {"alarms": {"p99_latency_ms": 250}}},
        {"deployment": {"alarms": {"p99_latency_ms": "fast"}}},
        "an integer or null",
    ),
    (
        "alb.deletion_protection",
        {"alb": {"deletion_protection": True}},
        {"alb": {"deletion_protection": "on"}},
        "true or false",
    ),
    (
        "alb.idle_timeout_seconds",
        {"alb": {"idle_timeout_seconds": 300}},
        {"alb": {"idle_timeout_seconds": 0}},
        ">= 1",
    ),
    (
        "alb.ssl_policy",
        {"alb": {"ssl_policy": "ELBSecurityPolicy-TLS13-1-3-2021-06"}},
        {"alb": {"ssl_policy": "ELBSecurityPolicy-TLS-1-1-2017-01"}},
        "TLS 1.3 security policy",
    ),
    (
        "alb.access_logs_bucket",
        {"alb": {"access_logs_bucket": "my-alb-logs"}},
        {"alb": {"access_logs_bucket": "My_Logs"}},
        "S3 bucket",
    ),
    ("logs.retention_days", {"logs": {"retention_days": 365}}, {"logs": {"retention_days": 10}}, "one of"),
    (
        "environments.Prod",
        {"environments": {"staging": {}, "prod": {}}},
        {"environments": {"Prod": {}}},
        "environment name",
    ),
    ("ci.aws_auth", {"ci": {"aws_auth": "access_keys"}}, {"ci": {"aws_auth": "password"}}, "one of"),
    (
        "ci.role_arn",
        {"ci": {"role_arn": "arn:aws:iam::123456789012:role/deployer"}},
        {"ci": {"role_arn": "arn:aws:iam::123456789012:user/deployer"}},
        "IAM role ARN",
    ),
    (
        "ci.deploy_branch",
        {"ci": {"deploy_branch": "release/1.x"}},
        {"ci": {"deploy_branch": "has space"}},
        "branch",
    ),
    ("ci.destroy", {"ci": {"destroy": "disabled"}}, {"ci": {"destroy": "auto"}}, "one of"),
    (
        "ci.bluegreen_package",
        {
            "ci": {
                "bluegreen_package": "bluegreen @ git+https://gitlab.example.com/platform/bluegreen.git@v0.2.0"
            }
        },
        {"ci": {"bluegreen_package": "bluegreen @ git+file:///home/me/bluegreen"}},
        "pip requirement",
    ),
    (
        "ci.pip_index_url",
        {
            "ci": {
                "pip_index_url": "https://gitlab-ci-token:${CI_JOB_TOKEN}@gitlab.example.com/api/v4/groups/7/-/packages/pypi/simple"
            }
        },
        {"ci": {"pip_index_url": "http://pypi.internal/simple"}},
        "https URL",
    ),
    ("ci.renovate", {"ci": {"renovate": False}}, {"ci": {"renovate": "no"}}, "true or false"),
    (
        "state.bucket",
        {"state": {"bucket": "tf-state", "lock_table": "locks"}},
        {"state": {"bucket": "TF", "lock_table": "locks"}},
        "S3 bucket",
    ),
    (
        "state.key_prefix",
        {"state": {"bucket": "tf-state", "lock_table": "locks", "key_prefix": "teams/a"}},
        {"state": {"bucket": "tf-state", "lock_table": "locks", "key_prefix": "/teams/a/"}},
        "key prefix",
    ),
    (
        "state.lock_table",
        {"state": {"bucket": "tf-state", "lock_table": "tf-locks"}},
        {"state": {"bucket": "tf-state", "lock_table": "x"}},
        "DynamoDB",
    ),
    (
        "state.region",
        {"state": {"bucket": "tf-state", "lock_table": "locks", "region": "eu-west-1"}},
        {"state": {"bucket": "tf-state", "lock_table": "locks", "region": "west"}},
        "AWS region",
    ),
]


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def key_line(text: str, path: str) -> int:
    """Line (1-based) of the last key of a dotted path, found by indentation in block YAML."""
    parts = path.replace("[", ".[").split(".")
    keys = [part for part in parts if not part.startswith("[")]
    lines = text.splitlines()
    start, indent = 0, 0
    found = 0
    for key in keys:
        for number in range(start, len(lines)):
            stripped = lines[number].lstrip(" -").replace("'", "")
            if lines[number].startswith(" " * indent) and stripped.startswith(key + ":"):
                found, start, indent = (
                    number + 1,
                    number + 1,
                    len(lines[number]) - len(lines[number].lstrip()) + 2,
                )
                break
        else:
            raise AssertionError(f"{key} not in {text}")
    if parts[-1].startswith("["):  # a block list item: the n-th "- " line after its key
        items = [n + 1 for n in range(found, len(lines)) if lines[n].lstrip().startswith("- ")]
        return items[int(parts[-1].strip("[]"))]
    return found


def write(tmp_path: Path, data: dict[str, Any]) -> tuple[Path, str]:
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    file = tmp_path / "service.yaml"
    file.write_text(text)
    return file, text


@pytest.mark.parametrize(("path", "valid", "invalid", "words"), FIELDS, ids=[case[0] for case in FIELDS])
def test_valid_value_passes(tmp_path, capsys, path, valid, invalid, words):
    file, _ = write(tmp_path, deep_merge(BASE, valid))
    assert main(["validate", str(file)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("path", "valid", "invalid", "words"), FIELDS, ids=[case[0] for case in FIELDS])
def test_invalid_value_is_reported_at_its_line(tmp_path, capsys, path, valid, invalid, words):
    file, text = write(tmp_path, deep_merge(BASE, invalid))
    dest = tmp_path / "out"
    assert main(["new", str(file), str(dest)]) == 2
    assert not dest.exists()
    lines = capsys.readouterr().err.strip().splitlines()
    line = key_line(text, path)
    matching = [m for m in lines if m.startswith(f"{file}:{line}:") and f": {path}: expected " in m]
    assert matching, f"no message for {path} at line {line}: {lines}"
    assert words in matching[0]
    assert ", found " in matching[0]
    assert "Traceback" not in "\n".join(lines)


def test_every_schema_field_has_a_case():
    """The table above covers every property of the schema, nested blocks included."""
    from bluegreen.schema import service_schema

    schema = service_schema()
    paths = [case[0] for case in FIELDS]
    for name, prop in schema["properties"].items():
        assert any(p == name or p.startswith((f"{name}.", f"{name}[")) for p in paths), name
        block = schema["$defs"].get(prop.get("$ref", "").removeprefix("#/$defs/"), {})
        for field in block.get("properties", {}):
            prefix = f"{name}.{field}"
            covered = any(p == prefix or p.startswith((f"{prefix}.", f"{prefix}[")) for p in paths)
            assert covered, prefix
