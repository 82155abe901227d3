"""Cross-field rules the JSON Schema cannot express, checked on each merged environment."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import Any

from .errors import Problem, describe
from .loader import FieldPath, LoadedSpec, dotted
from .model import NAME_LIMITS, MergedEnvironment, dns_record, hostname, resource_names

# Memory (MiB) Fargate accepts for each CPU size.
FARGATE_MEMORY: dict[int, range] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}
# Ports the load balancer's production listeners take.
PROD_LISTENER_PORTS = (80, 443)

# ACM: the first domain name of a certificate (its common name), RFC 5280.
ACM_COMMON_NAME_LIMIT = 64
# Tags a resource takes, the ones AWS adds (aws:...) aside.
MAX_TAGS = 50
# ECR's repository name pattern (CreateRepository, repositoryName).
ECR_REPOSITORY = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
# S3 general purpose bucket names: what the schema's pattern (length, characters, ends) leaves out.
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
IPV4_LIKE = re.compile(r"[0-9]+(\.[0-9]+){3}")

Finding = tuple[FieldPath, str, str]
Rule = Callable[[MergedEnvironment], Iterator[Finding]]


def cross_field_problems(spec: LoadedSpec, environments: list[MergedEnvironment]) -> list[Problem]:
    """Problems found in any environment, each located where the offending value was written."""
    problems: list[Problem] = []
    several = len(environments) > 1
    for env in environments:
        for rule in RULES:
            for path, expected, found in rule(env):
                origin = env.origin(path)
                where = f" (in environment {env.name})" if several and origin[0] != "environments" else ""
                problems.append(_problem(spec, origin, expected + where, found))
    problems.extend(_duplicate_hostnames(spec, environments))
    problems.extend(_one_architecture(spec, environments))
    problems.extend(_one_image(spec, environments))
    problems.extend(_deploy_role_accounts(spec, environments))
    problems.extend(_secret_accounts(spec, environments))
    problems.extend(_names_aws_refuses(spec, environments))
    problems.extend(_deploy_role_paths(spec, environments))
    problems.extend(_state_bucket_name(spec))
    problems.extend(_deploy_branch(spec))
    return problems


def _problem(spec: LoadedSpec, path: FieldPath, expected: str, found: str) -> Problem:
    line, column = spec.position(path) or (None, None)
    return Problem(line, column, dotted(path), expected, found)


def fargate_size(env: MergedEnvironment) -> Iterator[Finding]:
    cpu, memory = env.get("compute", "cpu"), env.get("compute", "memory")
    allowed = FARGATE_MEMORY[cpu]
    if memory not in allowed:
        choices = f"{allowed.start} to {allowed.stop - 1} in steps of {allowed.step}"
        yield ("compute", "memory"), f"a memory size Fargate accepts with cpu {cpu} ({choices})", str(memory)


def spot_architecture(env: MergedEnvironment) -> Iterator[Finding]:
    if env.get("compute", "spot") and env.get("compute", "architecture") != "x86_64":
        yield (
            ("compute", "spot"),
            "spot only with architecture x86_64 (Fargate Spot runs no ARM64 tasks)",
            f"spot with {env.get('compute', 'architecture')}",
        )


def task_count(env: MergedEnvironment) -> Iterator[Finding]:
    low, high = env.get("scaling", "min"), env.get("scaling", "max")
    if low > high:
        path = (
            ("scaling", "min") if env.origin(("scaling", "min"))[0] == "environments" else ("scaling", "max")
        )
        yield path, "scaling.min <= scaling.max", f"min {low} and max {high}"


def strategy_block(env: MergedEnvironment) -> Iterator[Finding]:
    strategy = env.get("deployment", "strategy")
    if strategy != "all_at_once" and not env.get("deployment", strategy):
        yield (
            ("deployment", "strategy"),
            f"a deployment.{strategy} block (percent, minutes) with strategy {strategy}",
            "no such block",
        )


def test_listener_port(env: MergedEnvironment) -> Iterator[Finding]:
    port = env.get("deployment", "test_listener_port")
    if port in PROD_LISTENER_PORTS:
        yield (
            ("deployment", "test_listener_port"),
            "a port other than 80 and 443 (production listeners)",
            str(port),
        )


def test_listener_networks(env: MergedEnvironment) -> Iterator[Finding]:
    for index, cidr in enumerate(env.get("deployment", "test_listener_cidrs") or []):
        network = ipaddress.ip_network(cidr, strict=False)
        if str(network) != cidr:
            yield ("deployment", "test_listener_cidrs", index), f"a network address ({network})", cidr


def approval_test_networks(env: MergedEnvironment) -> Iterator[Finding]:
    """Who tries green before approving must be let in by name.

    The load balancer is internet-facing: its DNS name resolves to public addresses, so a
    client inside the VPC reaches it through its NAT gateway, from the gateway's public
    address, never from the VPC's CIDR block, the test listener's default source.
    """
    minutes = env.get("deployment", "approval_timeout_minutes")
    if minutes and not env.get("deployment", "test_listener_cidrs"):
        yield (
            ("deployment", "approval_timeout_minutes"),
            "deployment.test_listener_cidrs with an approval wait: the addresses green is tried from "
            "(an office or VPN range, the VPC's NAT gateway addresses); the default, the VPC's CIDR "
            "block, lets nobody in, since the internet-facing load balancer sees clients in the VPC "
            "at their NAT gateway's public address",
            f"{minutes} minutes without test_listener_cidrs",
        )


def rollback_alarms(env: MergedEnvironment) -> Iterator[Finding]:
    alarms = env.get("deployment", "alarms")
    if env.get("deployment", "auto_rollback", "on_alarms") and all(v is None for v in alarms.values()):
        yield (
            ("deployment", "auto_rollback", "on_alarms"),
            "at least one of deployment.alarms enabled when rolling back on alarms",
            "every alarm disabled",
        )


def health_check_timing(env: MergedEnvironment) -> Iterator[Finding]:
    timeout, interval = (
        env.get("app", "health_check", "timeout_seconds"),
        env.get("app", "health_check", "interval_seconds"),
    )
    if timeout >= interval:
        yield (
            ("app", "health_check", "timeout_seconds"),
            f"a timeout shorter than the interval ({interval} s)",
            f"{timeout} s",
        )


def dns_zone(env: MergedEnvironment) -> Iterator[Finding]:
    dns = env.get("dns")
    if dns is not None and "zone" not in dns:
        yield ("dns",), "dns.zone (the Route53 hosted zone)", "a dns block without a zone"


def variable_names(env: MergedEnvironment) -> Iterator[Finding]:
    for name in sorted(set(env.get("app", "environment")) & set(env.get("app", "secrets"))):
        yield (
            ("app", "secrets", name),
            "a variable set in app.environment or app.secrets, not both",
            f"{name} in both",
        )


def ci_role(env: MergedEnvironment) -> Iterator[Finding]:
    if env.get("ci", "aws_auth") == "access_keys" and env.get("ci", "role_arn"):
        yield (
            ("ci", "role_arn"),
            "no role_arn with aws_auth access_keys (it is used by oidc only)",
            "a role ARN",
        )


def name_lengths(env: MergedEnvironment) -> Iterator[Finding]:
    names = resource_names(env.spec["name"], env.name)
    for kind, limit in NAME_LIMITS.items():
        if len(names[kind]) > limit:
            too_long = f"the {kind.replace('_', ' ')} '{names[kind]}' of environment {env.name}"
            counts = f"has {len(names[kind])} characters, the limit is {limit}"
            expected = f"a name short enough for every AWS name ({too_long} {counts})"
            yield ("name",), expected, describe(env.spec["name"])
            return


def certificate_name(env: MergedEnvironment) -> Iterator[Finding]:
    """ACM takes at most 64 characters for the domain name (the certificate's common name)."""
    dns = env.get("dns")
    if not dns or "zone" not in dns or not dns.get("https", True):
        return
    fqdn = hostname(dns_record(env, env.spec["name"]), dns["zone"])
    if len(fqdn) > ACM_COMMON_NAME_LIMIT:
        path = ("dns", "record") if dns.get("record") else ("dns", "zone")
        yield (
            path,
            f"a host name of at most {ACM_COMMON_NAME_LIMIT} characters with dns.https: ACM refuses a "
            "longer domain name for the certificate's common name (or dns.https false)",
            f"{fqdn} ({len(fqdn)} characters)",
        )


def tag_count(env: MergedEnvironment) -> Iterator[Finding]:
    """Every resource carries the spec's tags, bluegreen's and, on some, a Name: 50 at most."""
    tags = env.get("tags") or {}
    own = ["Service", "Environment", *(["Owner"] if env.spec.get("owner") else []), "ManagedBy"]
    own += [] if "Name" in tags else ["Name"]
    if len(tags) + len(own) > MAX_TAGS:
        yield (
            ("tags",),
            f"at most {MAX_TAGS - len(own)} tags: AWS takes {MAX_TAGS} per resource and bluegreen "
            f"adds {', '.join(own)}",
            f"{len(tags)} tags once merged",
        )


RULES: tuple[Rule, ...] = (
    fargate_size,
    spot_architecture,
    task_count,
    strategy_block,
    test_listener_port,
    test_listener_networks,
    approval_test_networks,
    rollback_alarms,
    health_check_timing,
    dns_zone,
    variable_names,
    ci_role,
    name_lengths,
    certificate_name,
    tag_count,
)


def _duplicate_hostnames(spec: LoadedSpec, environments: list[MergedEnvironment]) -> Iterator[Problem]:
    """Two environments must not claim the same DNS name."""
    claimed: dict[str, str] = {}
    for env in environments:
        dns: dict[str, Any] | None = env.get("dns")
        if not dns or "zone" not in dns:
            continue
        fqdn = hostname(dns_record(env, env.spec["name"]), dns["zone"])
        if fqdn in claimed:
            yield _problem(
                spec,
                env.origin(("dns", "record")),
                f"a DNS name of its own in environment {env.name}",
                f"{fqdn}, already used by environment {claimed[fqdn]}",
            )
        else:
            claimed[fqdn] = env.name


def _one_architecture(spec: LoadedSpec, environments: list[MergedEnvironment]) -> Iterator[Problem]:
    """One image is built and promoted through every environment, so they share its architecture."""
    first = environments[0]
    for env in environments[1:]:
        if env.get("compute", "architecture") != first.get("compute", "architecture"):
            yield _problem(
                spec,
                env.origin(("compute", "architecture")),
                f"the architecture of environment {first.name} ({first.get('compute', 'architecture')}): "
                "one image serves every environment",
                env.get("compute", "architecture"),
            )


def written_in_environment(spec: LoadedSpec, environment: str, path: FieldPath) -> bool:
    """Whether `environments.ENV.PATH` is written in the document itself (not inherited)."""
    value: Any = (spec.data.get("environments") or {}).get(environment)
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def arn_account(arn: str) -> str:
    """The account field of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`)."""
    return arn.split(":")[4]


def _one_image(spec: LoadedSpec, environments: list[MergedEnvironment]) -> Iterator[Problem]:
    """The image is built once, from the top-level app.runtime (its Dockerfile and build job) with
    the top-level app.port baked in (EXPOSE, and PORT for the generated apps), and promoted
    unchanged to every environment: an environment cannot run another runtime or listen elsewhere."""
    app = spec.data.get("app") or {}
    built = {"runtime": app.get("runtime"), "port": app.get("port")}
    baked = {
        "runtime": "its Dockerfile and build job are the top-level runtime's",
        "port": "the top-level port is baked into it (EXPOSE, PORT) and the load balancer would "
        "check another",
    }
    for env in environments:
        for field, value in built.items():
            if env.get("app", field) != value and written_in_environment(spec, env.name, ("app", field)):
                yield _problem(
                    spec,
                    ("environments", env.name, "app", field),
                    f"the top-level app.{field} ({value}): one image is built once and promoted "
                    f"through every environment, and {baked[field]}",
                    describe(env.get("app", field)),
                )


def _deploy_role_accounts(spec: LoadedSpec, environments: list[MergedEnvironment]) -> Iterator[Problem]:
    """The deploy role of an environment is in the environment's account.

    The jobs assume ci.role_arn directly and Terraform's provider pins aws.account_id
    with allowed_account_ids: a role of another account gets every plan refused. Where
    the environment inherits the top-level role, the fix is its own override.
    """
    for env in environments:
        account, role = env.get("aws", "account_id"), env.get("ci", "role_arn")
        if not account or not role or arn_account(role) == account:
            continue
        role_here = written_in_environment(spec, env.name, ("ci", "role_arn"))
        account_here = written_in_environment(spec, env.name, ("aws", "account_id"))
        refused = f"which the provider's allowed_account_ids [{account}] refuses"
        override: FieldPath = ("environments", env.name, "ci", "role_arn")
        if role_here or not account_here:
            where = f" of environment {env.name}" if role_here else ""
            yield _problem(
                spec,
                override if role_here else ("ci", "role_arn"),
                f"a role of account {account} (the aws.account_id{where}): "
                f"its jobs assume this role, {refused}",
                f"a role of account {arn_account(role)}",
            )
        else:
            yield _problem(
                spec,
                override,
                f"a deploy role of account {account} for environment {env.name} (its aws.account_id), "
                "or null to read the CI/CD variable AWS_ROLE_ARN: "
                f"it inherits the top-level ci.role_arn, {refused}",
                f"no override of the role of account {arn_account(role)}",
            )


def _secret_accounts(spec: LoadedSpec, environments: list[MergedEnvironment]) -> Iterator[Problem]:
    """An environment moved to an account of its own does not inherit another account's secrets.

    Its tasks could not read them (the execution role is refused across accounts unless the
    secret's resource policy and a customer-managed KMS key grant it: the task stops with
    ResourceInitializationError), or, where they are shared, staging reads production's
    password. A secret an environment names itself, in any account, is its choice.
    """
    for env in environments:
        account = env.get("aws", "account_id")
        if not account or not written_in_environment(spec, env.name, ("aws", "account_id")):
            continue
        for name, arn in sorted((env.get("app", "secrets") or {}).items()):
            own = written_in_environment(spec, env.name, ("app", "secrets", name))
            if own or arn_account(arn) == account:
                continue
            yield _problem(
                spec,
                ("environments", env.name, "app", "secrets", name),
                f"a secret of account {account} for environment {env.name} (its aws.account_id): it inherits "
                f"app.secrets.{name} of account {arn_account(arn)}, which its tasks cannot read "
                "(ResourceInitializationError) or, if shared, is another environment's value",
                f"no override of {arn}",
            )


def _names_aws_refuses(spec: LoadedSpec, environments: list[MergedEnvironment]) -> Iterator[Problem]:
    """Names derived from the service name that EC2, ELB or ECR refuse, whatever the environment."""
    service = environments[0].spec["name"]
    names = resource_names(service, environments[0].name)
    if service.startswith("sg-"):
        yield _problem(
            spec,
            ("name",),
            "a service name not starting with 'sg-': EC2 refuses security group names starting with "
            f"sg- (the load balancer's would be {names['alb_security_group']!r})",
            describe(service),
        )
    if service.startswith("internal-"):
        yield _problem(
            spec,
            ("name",),
            "a service name not starting with 'internal-': Elastic Load Balancing refuses load balancer "
            f"names starting with internal- (it would be {names['alb']!r})",
            describe(service),
        )
    if not ECR_REPOSITORY.fullmatch(names["ecr_repository"]):
        yield _problem(
            spec,
            ("name",),
            "a service name without '--': ECR repository names have one '-', '.' or '_' at a time "
            f"between letters and digits (the repository would be {names['ecr_repository']!r})",
            describe(service),
        )


def _deploy_role_paths(spec: LoadedSpec, environments: list[MergedEnvironment]) -> Iterator[Problem]:
    """The bootstrap creates the deploy role without a path (path /): a role ARN with a path names
    a role that does not exist, and the state bucket's policy would grant the wrong one."""
    seen: set[FieldPath] = set()
    for env in environments:
        role = env.get("ci", "role_arn")
        if not role:
            continue
        path: FieldPath = (
            ("environments", env.name, "ci", "role_arn")
            if written_in_environment(spec, env.name, ("ci", "role_arn"))
            else ("ci", "role_arn")
        )
        resource = role.split(":", 5)[5]
        if resource.count("/") > 1 and path not in seen:
            seen.add(path)
            name = resource.rsplit("/", 1)[1]
            yield _problem(
                spec,
                path,
                f"a role ARN without a path, such as {role.split(':role/')[0]}:role/{name}: the bootstrap "
                f"creates the deploy role {name} at path /",
                f"the path /{resource.split('/', 1)[1].rsplit('/', 1)[0]}/",
            )


def _state_bucket_name(spec: LoadedSpec) -> Iterator[Problem]:
    """S3's naming rules the schema's pattern does not carry: the bootstrap creates this bucket."""
    bucket = (spec.data.get("state") or {}).get("bucket")
    if not isinstance(bucket, str):
        return
    reasons = []
    if ".." in bucket:
        reasons.append("two adjacent periods")
    if IPV4_LIKE.fullmatch(bucket):
        reasons.append("the form of an IP address")
    reasons += [
        f"the reserved prefix {prefix}" for prefix in S3_RESERVED_PREFIXES if bucket.startswith(prefix)
    ]
    reasons += [f"the reserved suffix {suffix}" for suffix in S3_RESERVED_SUFFIXES if bucket.endswith(suffix)]
    if reasons:
        yield _problem(
            spec,
            ("state", "bucket"),
            "an S3 bucket name S3 accepts (no two adjacent periods, not an IP address, none of the "
            "reserved prefixes xn--, sthree-, amzn-s3-demo- or suffixes -s3alias, --ol-s3, .mrap, "
            "--x-s3, --table-s3)",
            f"{describe(bucket)} with {' and '.join(reasons)}",
        )


def branch_name_problem(name: str) -> str | None:
    """Why git refuses `name` as a branch name, after `git check-ref-format --branch`; None if it
    does not. The rules of git-check-ref-format(1) on refs/heads/NAME, then the branch rules of
    git's strbuf_check_branch_ref: no leading '-', not HEAD."""
    if name.startswith("-"):
        return "a leading '-'"
    if name == "HEAD":
        return "the name HEAD"
    checks = (
        (any(c < " " or c == "\x7f" for c in name), "a control character"),
        (any(c in name for c in " ~^:?*[\\"), "one of space ~ ^ : ? * [ \\"),
        (".." in name, "two consecutive dots"),
        ("@{" in name, "the sequence @{"),
        (
            name.startswith("/") or name.endswith("/") or "//" in name,
            "an empty component (a leading, trailing or double '/')",
        ),
        (name.endswith("."), "a trailing '.'"),
        (any(part.startswith(".") for part in name.split("/")), "a component starting with '.'"),
        (any(part.endswith(".lock") for part in name.split("/")), "a component ending with '.lock'"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _deploy_branch(spec: LoadedSpec) -> Iterator[Problem]:
    branch = (spec.data.get("ci") or {}).get("deploy_branch")
    if isinstance(branch, str) and (reason := branch_name_problem(branch)):
        yield _problem(
            spec,
            ("ci", "deploy_branch"),
            "a branch name git accepts (git check-ref-format --branch)",
            f"{describe(branch)} with {reason}",
        )
