"""The validated, fully defaulted, per-environment model: the only thing templates see."""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from . import __version__
from .loader import FieldPath

DEFAULT_ENVIRONMENTS = {"production": {}}
# Blocks an environment may override; each merges over the top-level block of the same name.
OVERRIDABLE_BLOCKS = (
    "tags",
    "aws",
    "network",
    "dns",
    "app",
    "compute",
    "scaling",
    "deployment",
    "alb",
    "logs",
    "ci",
)
# Mappings that select something: an override replaces them instead of adding to them.
REPLACED_MAPPINGS = {("network", "private_subnet_tags"), ("network", "public_subnet_tags")}
# AWS name length limits of what bluegreen names after the service and the environment.
NAME_LIMITS = {
    "alb": 32,
    "target_group_blue": 32,
    "target_group_green": 32,
    "execution_role": 64,
    "task_role": 64,
    "codedeploy_role": 64,
    "autoscaling_policy_prefix": 200,
    "cluster": 255,
    "service": 255,
    "task_family": 255,
    "codedeploy_app": 100,
    "deployment_group": 100,
    "deployment_config": 100,
    "ecr_repository": 256,
    "log_group": 512,
    "alb_security_group": 255,
    "service_security_group": 255,
}
ALL_AT_ONCE_CONFIG = "CodeDeployDefault.ECSAllAtOnce"


@dataclass(frozen=True)
class MergedEnvironment:
    """One environment's spec: the defaulted top level with its overrides merged in."""

    name: str
    spec: dict[str, Any]
    overridden: frozenset[FieldPath]

    def origin(self, path: FieldPath) -> FieldPath:
        """Where a merged value was written: under `environments.NAME` when the override set it."""
        for length in range(len(path), 0, -1):
            if path[:length] in self.overridden:
                return ("environments", self.name, *path)
        return path

    def get(self, *path: str) -> Any:
        value: Any = self.spec
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        return value


def merge_environments(defaulted: dict[str, Any]) -> list[MergedEnvironment]:
    """Each environment, in the order written, with its overrides merged over the top level."""
    environments = defaulted.get("environments") or DEFAULT_ENVIRONMENTS
    merged = []
    for name, written in environments.items():
        override = written or {}
        spec = {key: copy.deepcopy(value) for key, value in defaulted.items() if key != "environments"}
        overridden: set[FieldPath] = set()
        for block in OVERRIDABLE_BLOCKS:
            if block in override:
                spec[block] = _merge(spec.get(block), override[block], (block,), overridden)
        _resolve_vpc_choice(spec, override.get("network") or {})
        merged.append(MergedEnvironment(name, spec, frozenset(overridden)))
    return merged


def _merge(base: Any, override: Any, path: FieldPath, overridden: set[FieldPath]) -> Any:
    overridden.add(path)
    if not (isinstance(base, dict) and isinstance(override, dict)) or path in REPLACED_MAPPINGS:
        return copy.deepcopy(override)
    result = dict(base)
    for key, value in override.items():
        result[key] = _merge(base.get(key), value, (*path, key), overridden)
    return result


def _resolve_vpc_choice(spec: dict[str, Any], network_override: dict[str, Any]) -> None:
    """vpc_id and vpc_tag_key exclude each other: the one an environment sets wins."""
    network = spec["network"]
    if "vpc_tag_key" in network_override and "vpc_id" not in network_override:
        network["vpc_id"] = None
    if network.get("vpc_id"):
        network["vpc_tag_key"] = None


def resource_names(service: str, environment: str) -> dict[str, str]:
    """Every AWS name bluegreen derives, for one environment."""
    prefix = f"{service}-{environment}"
    return {
        "prefix": prefix,
        "alb": prefix,
        "target_group_blue": f"{prefix}-blue",
        "target_group_green": f"{prefix}-green",
        "execution_role": f"{prefix}-execution",
        "task_role": f"{prefix}-task",
        "codedeploy_role": f"{prefix}-codedeploy",
        "autoscaling_policy_prefix": f"{prefix}-track",
        "cluster": prefix,
        "service": prefix,
        "task_family": prefix,
        "container": service,
        "codedeploy_app": prefix,
        "deployment_group": prefix,
        "deployment_config": f"{prefix}-traffic-shift",
        "ecr_repository": prefix,
        "log_group": f"/ecs/{prefix}",
        "alb_security_group": f"{prefix}-alb",
        "service_security_group": f"{prefix}-service",
    }


@dataclass(frozen=True)
class Dns:
    zone: str
    record: str
    fqdn: str
    https: bool
    apex: bool


@dataclass(frozen=True)
class TrafficShift:
    """A custom CodeDeploy config; None of it for all-at-once."""

    type: str
    percent: int
    minutes: int


@dataclass(frozen=True)
class ScalingPolicy:
    name: str
    metric: str
    target: int


# The partition of a region, by its prefix: China's regions are in aws-cn, AWS
# GovCloud (US)'s in aws-us-gov, every other commercial region in aws (AWS General
# Reference, "Amazon Resource Names (ARNs)": https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html).
PARTITION_PREFIXES = {"cn-": "aws-cn", "us-gov-": "aws-us-gov"}


def partition(region: str) -> str:
    """The partition of `region`, the second field of the ARNs of its resources."""
    return next((name for prefix, name in PARTITION_PREFIXES.items() if region.startswith(prefix)), "aws")


@dataclass(frozen=True)
class State:
    bucket: str
    key: str
    region: str
    lock_table: str | None  # deprecated, unused: state is locked with a lock file in the bucket


@dataclass(frozen=True)
class ImageSource:
    """An ECR repository of another environment."""

    repository: str
    region: str
    account_id: str | None


@dataclass(frozen=True)
class Environment:
    """Everything one environment root is rendered from."""

    name: str
    is_production: bool
    region: str
    account_id: str | None
    names: dict[str, str]
    tags: dict[str, str]
    default_tags: dict[str, str]
    # The provider's default_tags: bluegreen's tags, then the spec's (whose keys never repeat bluegreen's).
    provider_default_tags: dict[str, str]
    vpc_id: str | None
    vpc_tag_key: str | None
    private_subnet_tags: dict[str, str]
    public_subnet_tags: dict[str, str]
    dns: Dns | None
    https: bool
    # Where users reach the service, when DNS gives it a name; None: the load balancer's own name.
    url: str | None
    test_url: str | None
    port: int
    health_check_path: str
    health_check: dict[str, int]
    container_health_check: list[str] | None
    command: list[str] | None
    environment: dict[str, str]
    secrets: dict[str, str]
    cpu: int
    memory: int
    cpu_architecture: str
    spot: bool
    min_tasks: int
    max_tasks: int
    scaling_policies: list[ScalingPolicy]
    scale_in_cooldown: int
    scale_out_cooldown: int
    strategy: str
    deployment_config_name: str
    traffic_shift: TrafficShift | None
    # Minutes from the first shifted request until all production traffic is on green.
    traffic_shift_minutes: int
    test_listener_port: int
    test_listener_cidrs: list[str] | None
    approval_timeout_minutes: int
    blue_termination_minutes: int
    deregistration_delay_seconds: int
    rollback_events: list[str]
    alarm_http_5xx_percent: float | None
    alarm_p99_latency_ms: int | None
    alb_deletion_protection: bool
    alb_idle_timeout_seconds: int
    alb_access_logs_bucket: str | None
    alb_ssl_policy: str
    log_retention_days: int
    ci_role_arn: str | None
    # Later environments wait for a person: the last of several is promoted by hand.
    manual_promotion: bool
    state: State | None
    # The repository `execute.sh promote` pulls the image from: the previous environment's
    # (None for the first environment, which builds).
    promote_from: ImageSource | None = None


@dataclass(frozen=True)
class BuildJob:
    """The pipeline's build stage for a runtime: compile and test with a cached toolchain."""

    image: str
    script: list[str]
    cache_key_file: str
    cache_paths: list[str]
    variables: dict[str, str]
    artifacts: list[str]


BUILD_JOBS = {
    "java-gradle": BuildJob(
        "gradle:8.10.2-jdk21-alpine",
        ["gradle build --no-daemon"],
        "build.gradle",
        [".gradle/caches", ".gradle/wrapper"],
        {"GRADLE_USER_HOME": "$CI_PROJECT_DIR/.gradle"},
        ["build/libs"],
    ),
    "java-maven": BuildJob(
        "maven:3.9.9-eclipse-temurin-21-alpine",
        ["mvn --batch-mode verify"],
        "pom.xml",
        [".m2/repository"],
        {"MAVEN_OPTS": "-Dmaven.repo.local=$CI_PROJECT_DIR/.m2/repository"},
        ["target/*.jar"],
    ),
    "python": BuildJob(
        "python:3.12.7-slim-bookworm",
        ["pip install -r requirements.txt", "python -m compileall -q app"],
        "requirements.txt",
        [".cache/pip"],
        {"PIP_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pip"},
        [],
    ),
    "node": BuildJob(
        "node:22.11.0-alpine",
        ["npm ci --cache .npm --prefer-offline", "npm test --if-present"],
        "package-lock.json",
        [".npm"],
        {},
        [],
    ),
    "go": BuildJob(
        "golang:1.23.3-alpine",
        ["go vet ./...", "go test ./...", "CGO_ENABLED=0 go build -o /dev/null ."],
        "go.mod",
        [".go/pkg/mod", ".go/cache"],
        {"GOPATH": "$CI_PROJECT_DIR/.go", "GOCACHE": "$CI_PROJECT_DIR/.go/cache"},
        [],
    ),
}
# What each runtime's build leaves in the working tree (compiled output, dependencies,
# caches): kept out of both the image's build context (.dockerignore) and git (.gitignore).
BUILD_OUTPUT = {
    "java-gradle": ["build/", "target/", ".gradle/"],
    "java-maven": ["build/", "target/", ".gradle/"],
    "node": ["node_modules/", "npm-debug.log"],
    "python": ["__pycache__/", "*.pyc", ".venv/", ".pytest_cache/"],
}
# Time for tasks to start and pass health checks, on top of the configured waits.
DEPLOY_MARGIN_MINUTES = 30
# What a deploy job does besides waiting for CodeDeploy (init, plan, apply of a
# whole stack, ECR checks): the job's `timeout:` is the wait plus this.
DEPLOY_JOB_EXTRA_MINUTES = 30
# The one Terraform release the generated pipeline installs and the tests run
# (the machine's toolchain, /work/shared/design/toolchain.md).
TERRAFORM_VERSION = "1.11.4"
# The S3 backend's use_lockfile needs 1.10; the generated roots ask for it.
TERRAFORM_REQUIRED_VERSION = ">= 1.10"
DOCKER_PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


@dataclass(frozen=True)
class ServiceModel:
    """The whole service: its identity, pipeline settings and each environment."""

    name: str
    description: str
    owner: str | None
    runtime: str
    port: int
    aws_auth: str
    deploy_branch: str
    # What the pipeline's check job installs from an index (pip requirement): the spec's
    # ci.bluegreen_package, else exactly the bluegreen that renders; and which index (None:
    # pip's default). `bluegreen_package_override` is the spec's own value (None when unset):
    # without it and without an index, the job installs the template release the repository
    # records (template_release in the templates' context), from its git URL.
    bluegreen_package: str
    pip_index_url: str | None
    bluegreen_package_override: str | None
    destroy: str
    docker_platform: str
    # How long deploy/execute.sh waits for a deployment: the slowest environment plus a margin.
    deploy_timeout_minutes: int
    # The deploy jobs' GitLab `timeout:`: the wait plus what the job does before it.
    deploy_job_timeout_minutes: int
    # Terraform of the generated pipeline (the release the tests run) and of the roots' required_version.
    terraform_version: str
    terraform_required_version: str
    build: BuildJob | None
    # What the runtime's build writes into the working tree (BUILD_OUTPUT).
    build_output: list[str] = field(default_factory=list)
    # Whether the repository carries renovate.json (Renovate's copier manager; ci.renovate).
    renovate: bool = True
    environments: list[Environment] = field(default_factory=list)

    def as_context(self) -> dict[str, Any]:
        """Plain data for templates."""
        return asdict(self)


def build_model(defaulted: dict[str, Any], merged: list[MergedEnvironment]) -> ServiceModel:
    """Derive everything the templates need, once."""
    ci = defaulted["ci"]
    environments = [
        _environment(defaulted, env, manual_promotion=len(merged) > 1 and env is merged[-1]) for env in merged
    ]
    environments = [environments[0]] + [
        replace(
            env,
            promote_from=ImageSource(previous.names["ecr_repository"], previous.region, previous.account_id),
        )
        for previous, env in itertools.pairwise(environments)
    ]
    slowest = max(
        env.approval_timeout_minutes + env.traffic_shift_minutes + env.blue_termination_minutes
        for env in environments
    )
    return ServiceModel(
        name=defaulted["name"],
        description=defaulted.get("description") or f"The {defaulted['name']} service",
        owner=defaulted.get("owner"),
        runtime=defaulted["app"]["runtime"],
        port=defaulted["app"]["port"],
        aws_auth=ci["aws_auth"],
        deploy_branch=ci["deploy_branch"],
        bluegreen_package=ci.get("bluegreen_package") or f"bluegreen=={__version__}",
        pip_index_url=ci.get("pip_index_url"),
        bluegreen_package_override=ci.get("bluegreen_package"),
        destroy=ci["destroy"],
        docker_platform=DOCKER_PLATFORMS[merged[0].spec["compute"]["architecture"]],
        deploy_timeout_minutes=slowest + DEPLOY_MARGIN_MINUTES,
        deploy_job_timeout_minutes=slowest + DEPLOY_MARGIN_MINUTES + DEPLOY_JOB_EXTRA_MINUTES,
        terraform_version=TERRAFORM_VERSION,
        terraform_required_version=TERRAFORM_REQUIRED_VERSION,
        build=BUILD_JOBS.get(defaulted["app"]["runtime"]),
        build_output=list(BUILD_OUTPUT.get(defaulted["app"]["runtime"], [])),
        renovate=ci["renovate"],
        environments=environments,
    )


def dns_record(env: MergedEnvironment, service: str) -> str:
    """The record an environment answers on: the spec's, or the service name (name-ENV outside production)."""
    record = env.get("dns", "record")
    if record:
        return record
    return service if env.name == "production" else f"{service}-{env.name}"


def hostname(record: str, zone: str) -> str:
    """The fully qualified name of a record; '@' is the zone apex."""
    return zone if record == "@" else f"{record}.{zone}"


def _environment(defaulted: dict[str, Any], env: MergedEnvironment, manual_promotion: bool) -> Environment:
    spec = env.spec
    service = defaulted["name"]
    app, compute, scaling, deployment = spec["app"], spec["compute"], spec["scaling"], spec["deployment"]
    is_production = env.name == "production"
    dns = None
    if spec.get("dns"):
        record = dns_record(env, service)
        zone = spec["dns"]["zone"]
        https = spec["dns"].get("https", True)
        dns = Dns(zone, record, hostname(record, zone), https, record == "@")
    default_tags = {"Service": service, "Environment": env.name}
    if defaulted.get("owner"):
        default_tags["Owner"] = defaulted["owner"]
    default_tags["ManagedBy"] = "bluegreen"
    strategy = deployment["strategy"]
    shift = None
    if strategy != "all_at_once":
        block = deployment[strategy]
        shift = TrafficShift(
            "TimeBasedCanary" if strategy == "canary" else "TimeBasedLinear",
            block["percent"],
            block["minutes"],
        )
    names = resource_names(service, env.name)
    alarms, rollback = deployment["alarms"], deployment["auto_rollback"]
    rollback_events = []
    if rollback["on_failure"]:
        rollback_events.append("DEPLOYMENT_FAILURE")
    if rollback["on_alarms"]:
        rollback_events.append("DEPLOYMENT_STOP_ON_ALARM")
    state = None
    if defaulted.get("state"):
        top_state = defaulted["state"]
        prefix = top_state.get("key_prefix") or f"services/{service}"
        state = State(
            top_state["bucket"],
            f"{prefix}/{env.name}/terraform.tfstate",
            top_state.get("region") or spec["aws"]["region"],
            top_state.get("lock_table"),
        )
    deletion_protection = spec["alb"]["deletion_protection"]
    return Environment(
        name=env.name,
        is_production=is_production,
        region=spec["aws"]["region"],
        account_id=spec["aws"].get("account_id"),
        names=names,
        tags=dict(sorted(spec["tags"].items())),
        default_tags=default_tags,
        provider_default_tags={**default_tags, **dict(sorted(spec["tags"].items()))},
        vpc_id=spec["network"].get("vpc_id"),
        vpc_tag_key=spec["network"].get("vpc_tag_key"),
        private_subnet_tags=dict(sorted(spec["network"]["private_subnet_tags"].items())),
        public_subnet_tags=dict(sorted(spec["network"]["public_subnet_tags"].items())),
        dns=dns,
        https=bool(dns and dns.https),
        url=_url(dns),
        test_url=_url(dns, deployment["test_listener_port"]),
        port=app["port"],
        health_check_path=app["health_check_path"],
        health_check=dict(app["health_check"]),
        container_health_check=container_health_command(
            app["runtime"], app["port"], app["health_check_path"]
        ),
        command=app.get("command"),
        environment={key: _env_value(value) for key, value in sorted(app["environment"].items())},
        secrets=dict(sorted(app["secrets"].items())),
        cpu=compute["cpu"],
        memory=compute["memory"],
        cpu_architecture="ARM64" if compute["architecture"] == "arm64" else "X86_64",
        spot=compute["spot"],
        min_tasks=scaling["min"],
        max_tasks=scaling["max"],
        scaling_policies=_scaling_policies(scaling, names["autoscaling_policy_prefix"]),
        scale_in_cooldown=scaling["scale_in_cooldown"],
        scale_out_cooldown=scaling["scale_out_cooldown"],
        strategy=strategy,
        deployment_config_name=deployment_config_name(names["prefix"], shift),
        traffic_shift=shift,
        traffic_shift_minutes=shift_minutes(shift),
        test_listener_port=deployment["test_listener_port"],
        test_listener_cidrs=deployment.get("test_listener_cidrs"),
        approval_timeout_minutes=deployment["approval_timeout_minutes"],
        blue_termination_minutes=deployment["blue_termination_minutes"],
        deregistration_delay_seconds=deployment["deregistration_delay_seconds"],
        rollback_events=rollback_events,
        alarm_http_5xx_percent=alarms.get("http_5xx_percent"),
        alarm_p99_latency_ms=alarms.get("p99_latency_ms"),
        alb_deletion_protection=is_production if deletion_protection is None else deletion_protection,
        alb_idle_timeout_seconds=spec["alb"]["idle_timeout_seconds"],
        alb_access_logs_bucket=spec["alb"].get("access_logs_bucket"),
        alb_ssl_policy=spec["alb"]["ssl_policy"],
        log_retention_days=spec["logs"]["retention_days"],
        ci_role_arn=spec["ci"].get("role_arn"),
        manual_promotion=manual_promotion,
        state=state,
    )


def deployment_config_name(prefix: str, shift: TrafficShift | None) -> str:
    """The CodeDeploy config of an environment, named after what it does.

    CodeDeploy cannot change a config, nor delete one a deployment group uses: a
    new traffic shift is a new config, made under a new name before the old one
    goes (create_before_destroy in the codedeploy module). At most
    32 + len("-linear-99-percent-2880-minutes") = 63 characters, within the 100 of
    CodeDeploy: the prefix is the load balancer's name, 32 at most.
    """
    if shift is None:
        return ALL_AT_ONCE_CONFIG
    kind = "canary" if shift.type == "TimeBasedCanary" else "linear"
    return f"{prefix}-{kind}-{shift.percent}-percent-{shift.minutes}-minutes"


def shift_minutes(shift: TrafficShift | None) -> int:
    """Minutes CodeDeploy spends moving production traffic: canary waits once, linear once per step."""
    if shift is None:
        return 0
    if shift.type == "TimeBasedCanary":
        return shift.minutes
    return shift.minutes * (math.ceil(100 / shift.percent) - 1)


def container_health_command(runtime: str, port: int, path: str) -> list[str] | None:
    """A Docker health check that needs only what the runtime's image ships.

    The generated images carry python, node, or busybox wget (alpine bases); a user's
    own Dockerfile may carry none of them, so it gets the load balancer check only.
    """
    url = f"http://127.0.0.1:{port}{path}"
    if runtime == "python":
        return ["CMD", "python", "-c", f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"]
    if runtime == "node":
        exit_with_status = "r => process.exit(r.statusCode < 400 ? 0 : 1)"
        probe = f"require('http').get('{url}', {exit_with_status}).on('error', () => process.exit(1))"
        return ["CMD", "node", "-e", probe]
    if runtime in ("java-gradle", "java-maven", "go"):
        return ["CMD", "wget", "-q", "-O", "/dev/null", url]
    return None


def _url(dns: Dns | None, port: int | None = None) -> str | None:
    """The service's URL on its DNS name (on `port` when given), or None without a name."""
    if dns is None:
        return None
    scheme = "https" if dns.https else "http"
    return f"{scheme}://{dns.fqdn}" + (f":{port}" if port else "")


def _scaling_policies(scaling: dict[str, Any], prefix: str) -> list[ScalingPolicy]:
    metrics = (
        ("cpu_target", "cpu", "ECSServiceAverageCPUUtilization"),
        ("memory_target", "memory", "ECSServiceAverageMemoryUtilization"),
        ("requests_per_target", "requests", "ALBRequestCountPerTarget"),
    )
    return [
        ScalingPolicy(f"{prefix}-{short}", metric, scaling[key])
        for key, short, metric in metrics
        if scaling.get(key) is not None
    ]


def _env_value(value: object) -> str:
    """Container environment values are strings; YAML booleans keep their YAML spelling."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
