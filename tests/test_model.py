"""The model templates see: defaults, environment merges, derived names and values."""

from __future__ import annotations

import json

import pytest
from bluegreen.loader import parse_spec
from bluegreen.model import ALL_AT_ONCE_CONFIG, NAME_LIMITS, resource_names
from bluegreen.validate import validate, validate_file

from tests.support.template_repo import PROJECT_ROOT

HEAD = """\
schema_version: 1
name: orders
aws: {region: us-west-2}
app: {runtime: python, port: 8080}
"""


def model_of(text: str):
    return validate(parse_spec(text))


def test_defaults_make_one_production_environment():
    model = model_of(HEAD)
    (env,) = model.environments
    assert env.name == "production" and env.is_production
    assert (env.cpu, env.memory, env.cpu_architecture, env.spot) == (256, 512, "X86_64", False)
    assert (env.min_tasks, env.max_tasks) == (2, 4)
    assert [p.metric for p in env.scaling_policies] == ["ECSServiceAverageCPUUtilization"]
    assert env.deployment_config_name == ALL_AT_ONCE_CONFIG and env.traffic_shift is None
    assert env.test_listener_port == 8443
    assert env.rollback_events == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
    assert env.alarm_http_5xx_percent == 5 and env.alarm_p99_latency_ms is None
    assert env.vpc_tag_key == "BlueGreenDemo" and env.vpc_id is None
    assert env.private_subnet_tags == {"Type": "Private"} and env.public_subnet_tags == {"Type": "Public"}
    assert env.dns is None and not env.https
    assert env.alb_deletion_protection, "production keeps its load balancer"
    assert env.log_retention_days == 30 and env.state is None
    assert env.default_tags == {"Service": "orders", "Environment": "production", "ManagedBy": "bluegreen"}
    assert env.health_check == {
        "interval_seconds": 10,
        "timeout_seconds": 5,
        "healthy_threshold": 2,
        "unhealthy_threshold": 3,
    }


def test_environment_overrides_merge_over_the_top_level():
    model = model_of(
        (
            HEAD
            + """\
tags: {CostCenter: "1"}
scaling: {min: 3, max: 6, memory_target: 70}
app:
  runtime: python
  port: 8080
  environment: {A: "1", B: "2"}
environments:
  staging:
    tags: {Tier: test}
    scaling: {min: 1}
    app: {environment: {B: "3"}}
    network: {private_subnet_tags: {Tier: app}}
  production: {}
"""
        ).replace("app: {runtime: python, port: 8080}\n", "", 1)
    )
    staging, production = model.environments
    assert [e.name for e in model.environments] == ["staging", "production"]
    assert (staging.min_tasks, staging.max_tasks) == (1, 6)
    assert (production.min_tasks, production.max_tasks) == (3, 6)
    assert staging.tags == {"CostCenter": "1", "Tier": "test"} and production.tags == {"CostCenter": "1"}
    assert staging.environment == {"A": "1", "B": "3"} and production.environment == {"A": "1", "B": "2"}
    assert staging.private_subnet_tags == {"Tier": "app"}, "subnet selectors are replaced, not merged"
    assert not staging.alb_deletion_protection and production.alb_deletion_protection
    assert [p.metric for p in staging.scaling_policies] == [
        "ECSServiceAverageCPUUtilization",
        "ECSServiceAverageMemoryUtilization",
    ]


def test_vpc_choice_follows_the_environment():
    model = model_of(
        HEAD
        + """\
network: {vpc_id: vpc-0123abcd}
environments:
  dev: {network: {vpc_tag_key: Dev}}
  production: {}
"""
    )
    dev, production = model.environments
    assert (dev.vpc_id, dev.vpc_tag_key) == (None, "Dev")
    assert (production.vpc_id, production.vpc_tag_key) == ("vpc-0123abcd", None)


def test_dns_records_default_per_environment():
    model = model_of(HEAD + "dns: {zone: example.com}\nenvironments:\n  staging: {}\n  production: {}\n")
    staging, production = model.environments
    assert staging.dns.fqdn == "orders-staging.example.com" and production.dns.fqdn == "orders.example.com"
    assert staging.https and production.https
    apex = model_of(HEAD + "dns: {zone: example.com, record: '@', https: false}\n").environments[0]
    assert apex.dns.apex and apex.dns.fqdn == "example.com" and not apex.https


@pytest.mark.parametrize(
    ("strategy", "kind", "percent", "minutes"),
    [("canary", "TimeBasedCanary", 10, 5), ("linear", "TimeBasedLinear", 20, 2)],
)
def test_traffic_shift_config(strategy, kind, percent, minutes):
    env = model_of(
        HEAD
        + f"deployment:\n  strategy: {strategy}\n  {strategy}: {{percent: {percent}, minutes: {minutes}}}\n"
    ).environments[0]
    assert env.traffic_shift.type == kind
    assert (env.traffic_shift.percent, env.traffic_shift.minutes) == (percent, minutes)
    # Named after its content: a changed traffic shift is a new config (CodeDeploy changes none).
    assert env.deployment_config_name == f"orders-production-{strategy}-{percent}-percent-{minutes}-minutes"


def test_remote_state_key_per_environment():
    model = model_of(
        HEAD
        + "state: {bucket: tf-state, lock_table: locks}\nenvironments:\n  dev: {aws: {region: eu-west-1}}\n  production: {}\n"
    )
    dev, production = model.environments
    assert dev.state.key == "services/orders/dev/terraform.tfstate"
    assert production.state.key == "services/orders/production/terraform.tfstate"
    assert dev.state.region == "eu-west-1" and dev.region == "eu-west-1"


def test_environment_values_are_strings():
    env = model_of(
        HEAD.replace("port: 8080}", "port: 8080, environment: {DEBUG: false, N: 3}}")
    ).environments[0]
    assert env.environment == {"DEBUG": "false", "N": "3"}


def test_longest_allowed_names_fit_every_limit():
    for kind, limit in NAME_LIMITS.items():
        assert len(resource_names("a" * 24, "b")[kind]) <= limit, kind


def test_model_is_plain_json_data():
    model = validate_file(PROJECT_ROOT / "tests/specs/full.yaml")
    assert json.loads(json.dumps(model.as_context()))["environments"][0]["name"] == "staging"


def test_state_needs_no_lock_table_and_an_old_one_is_still_accepted():
    """Terraform 1.10+ locks S3 state with a lock file (use_lockfile); state.lock_table is deprecated."""
    base = "schema_version: 1\nname: svc\naws: {region: eu-west-1}\napp: {runtime: python, port: 8000}\n"
    new = validate(parse_spec(base + "state: {bucket: tf-state}\n"))
    assert new.environments[0].state.bucket == "tf-state" and new.environments[0].state.lock_table is None
    old = validate(parse_spec(base + "state: {bucket: tf-state, lock_table: tf-locks}\n"))
    assert old.environments[0].state.key == new.environments[0].state.key
