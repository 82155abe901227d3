"""`bluegreen explain`: what a spec creates, how long a deployment takes and what it costs a month."""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .errors import Problem, SpecError, describe
from .model import Environment, ServiceModel

# Seconds from launching a Fargate task to a started container: placement, ENI, image pull, start.
# A typical figure for an image of a few hundred MB; large images and slow starts take longer.
TASK_START_SECONDS = 60
HOURS_PER_MONTH = 730
# Load balancer capacity units used all month: a low-traffic baseline (1 LCU is 25 new
# connections/s, 3,000 active connections/min, 1 GB/h processed or 1,000 rule evaluations/s).
ALB_BASELINE_LCU = 1.0
# Tasks kept on on-demand FARGATE when spot is on (the service's capacity provider base).
SPOT_ON_DEMAND_BASE = 1
# Prices used for a region the price table does not list.
FALLBACK_REGION = "us-east-1"
PRICES_FILE = "prices.json"

WIDTH = 80
LABEL_WIDTH = 17
INDENT = "  "
SCALING_METRICS = {
    "ECSServiceAverageCPUUtilization": "CPU {}%",
    "ECSServiceAverageMemoryUtilization": "memory {}%",
    "ALBRequestCountPerTarget": "{} requests per task",
}


# --- timeline -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineStep:
    """One phase of a deployment; `green_percent` is the production traffic on green during it."""

    start_seconds: int
    seconds: int
    green_percent: int
    what: str
    up_to_seconds: int = 0  # a wait that may last this long instead of `seconds`


@dataclass(frozen=True)
class Timeline:
    """The phases of one deployment, best case: an approval, if any, given at once."""

    steps: list[TimelineStep]

    @property
    def best_case_seconds(self) -> int:
        last = self.steps[-1]
        return last.start_seconds + last.seconds

    @property
    def latest_seconds(self) -> int:
        """The duration when every wait lasts as long as it may (an approval at its deadline)."""
        return self.best_case_seconds + sum(max(0, s.up_to_seconds - s.seconds) for s in self.steps)


def traffic_shift_steps(env: Environment) -> list[tuple[int, int]]:
    """(share of production traffic on green, seconds held) for each shift; the last one holds 0."""
    shift = env.traffic_shift
    if shift is None:
        return [(100, 0)]
    hold = shift.minutes * 60
    if env.strategy == "canary":
        return [(shift.percent, hold), (100, 0)]
    count = math.ceil(100 / shift.percent)
    return [(min(100, shift.percent * step), hold if step < count else 0) for step in range(1, count + 1)]


def deployment_timeline(env: Environment) -> Timeline:
    """Each phase of a deployment with its start and duration, computed from the settings."""
    checks, interval = env.health_check["healthy_threshold"], env.health_check["interval_seconds"]
    steps: list[TimelineStep] = []

    def add(seconds: int, green_percent: int, what: str, up_to_seconds: int = 0) -> None:
        start = steps[-1].start_seconds + steps[-1].seconds if steps else 0
        steps.append(TimelineStep(start, seconds, green_percent, what, up_to_seconds))

    add(TASK_START_SECONDS, 0, "green tasks start (image pull, container start)")
    add(checks * interval, 0, f"green passes {checks} health checks {interval} s apart")
    if env.approval_timeout_minutes:
        add(
            0,
            0,
            f"approval: try green on :{env.test_listener_port}, then approve:{env.name} "
            f"(up to {env.approval_timeout_minutes} min, or the deployment stops)",
            env.approval_timeout_minutes * 60,
        )
    else:
        add(0, 0, "no approval wait: production traffic moves at once")
    for seconds, green_percent, what in _shift_phases(env):
        add(seconds, green_percent, what)
    add(env.blue_termination_minutes * 60, 100, "blue kept running for rollback, then terminated")
    add(env.deregistration_delay_seconds, 100, "blue targets drain (deregistration delay)")
    return Timeline(steps)


def _shift_phases(env: Environment) -> list[tuple[int, int, str]]:
    shifts = traffic_shift_steps(env)
    if env.strategy == "all_at_once":
        return [(0, 100, "all production traffic moves to green")]
    if env.strategy == "canary":
        (percent, hold), _ = shifts
        return [
            (hold, percent, f"canary: {percent}% of production traffic on green"),
            (0, 100, "the rest: all production traffic on green"),
        ]
    return [
        (hold, percent, f"linear step {number}/{len(shifts)}: {percent}% of production traffic on green")
        for number, (percent, hold) in enumerate(shifts, start=1)
    ]


# --- cost -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FargateRate:
    vcpu_hour: float
    gb_hour: float


@dataclass(frozen=True)
class AlbRate:
    hour: float
    lcu_hour: float


@dataclass(frozen=True)
class RegionPrices:
    fargate: dict[str, FargateRate]  # by cpu architecture: X86_64, ARM64
    alb: AlbRate


@dataclass(frozen=True)
class PriceTable:
    """generator/prices.json: on-demand list prices of a date, by region."""

    date: str
    currency: str
    source: str
    spot_discount: float
    spot_note: str
    regions: dict[str, RegionPrices]

    def for_region(self, region: str) -> tuple[str, RegionPrices]:
        """The region whose prices apply (FALLBACK_REGION when the table lacks it) and its prices."""
        used = region if region in self.regions else FALLBACK_REGION
        return used, self.regions[used]


@cache
def load_prices() -> PriceTable:
    """The price table shipped with bluegreen."""
    data = json.loads(resources.files("bluegreen").joinpath(PRICES_FILE).read_text(encoding="utf-8"))
    regions = {
        name: RegionPrices(
            {arch: FargateRate(**rate) for arch, rate in entry["fargate"].items()},
            AlbRate(**entry["alb"]),
        )
        for name, entry in data["regions"].items()
    }
    return PriceTable(
        data["date"],
        data["currency"],
        data["source"],
        data["fargate_spot_discount"],
        data["fargate_spot_note"],
        regions,
    )


@dataclass(frozen=True)
class CostEstimate:
    """Monthly cost of one environment, at its fewest and its most tasks."""

    price_region: str
    task_hour: float
    fargate_min: float
    fargate_max: float
    alb: float

    @property
    def total_min(self) -> float:
        return self.fargate_min + self.alb

    @property
    def total_max(self) -> float:
        return self.fargate_max + self.alb


def task_hour_price(env: Environment, rate: FargateRate) -> float:
    """On-demand price of one task for one hour: vCPU-hours plus GB-hours."""
    return env.cpu / 1024 * rate.vcpu_hour + env.memory / 1024 * rate.gb_hour


def spot_split(env: Environment, tasks: int) -> tuple[int, int]:
    """(on-demand tasks, Spot tasks) of a task count."""
    on_demand = min(tasks, SPOT_ON_DEMAND_BASE) if env.spot else tasks
    return on_demand, tasks - on_demand


def fargate_monthly(env: Environment, tasks: int, rate: FargateRate, spot_discount: float) -> float:
    """A month of `tasks` tasks, Spot tasks at the discounted price."""
    on_demand, spot = spot_split(env, tasks)
    return HOURS_PER_MONTH * task_hour_price(env, rate) * (on_demand + spot * (1 - spot_discount))


def alb_monthly(rate: AlbRate) -> float:
    """A month of one load balancer at the baseline LCU."""
    return HOURS_PER_MONTH * (rate.hour + ALB_BASELINE_LCU * rate.lcu_hour)


def estimate_cost(env: Environment, prices: PriceTable) -> CostEstimate:
    """The monthly estimate of one environment from the price table."""
    price_region, region_prices = prices.for_region(env.region)
    rate = region_prices.fargate[env.cpu_architecture]
    return CostEstimate(
        price_region,
        task_hour_price(env, rate),
        fargate_monthly(env, env.min_tasks, rate, prices.spot_discount),
        fargate_monthly(env, env.max_tasks, rate, prices.spot_discount),
        alb_monthly(region_prices.alb),
    )


# --- text -----------------------------------------------------------------------------------


def select_environments(model: ServiceModel, environment: str | None, source: str) -> list[Environment]:
    """All environments, or the one named; SpecError naming the known ones for an unknown name."""
    if environment is None:
        return model.environments
    for env in model.environments:
        if env.name == environment:
            return [env]
    known = ", ".join(env.name for env in model.environments)
    expected = f"one of the environments {known}"
    raise SpecError(source, [Problem(None, None, "--env", expected, describe(environment))])


def explain(model: ServiceModel, environment: str | None = None, *, source: str = "service.yaml") -> str:
    """The plain-text explanation of a spec, for every environment or the one named."""
    environments = select_environments(model, environment, source)
    prices = load_prices()
    costs = [estimate_cost(env, prices) for env in environments]
    lines = _header(model)
    for env, cost in zip(environments, costs, strict=True):
        lines += [
            "",
            _banner(f"{env.name} ({env.region})"),
            "",
            "What the spec creates",
            *_resources(model, env),
            "",
            *_timeline_lines(deployment_timeline(env)),
            "",
            *_cost_lines(env, cost, prices),
        ]
    if len(environments) > 1:
        lines += ["", _banner("all environments"), "", *_total_lines(environments, costs, prices)]
    lines += ["", *_assumptions(prices)]
    return "\n".join(lines) + "\n"


def _header(model: ServiceModel) -> list[str]:
    owner = f"owner {model.owner}, " if model.owner else ""
    return [
        f"{model.name}: {model.description}",
        f"{owner}runtime {model.runtime}, container port {model.port}",
        "environments: " + ", ".join(env.name for env in model.environments),
    ]


def _banner(title: str) -> str:
    return f"== {title} ".ljust(WIDTH, "=")


def _row(label: str, text: str) -> list[str]:
    """One aligned `label  text` row, wrapped to WIDTH; AWS names are never broken."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=INDENT + label.ljust(LABEL_WIDTH),
        subsequent_indent=" " * (len(INDENT) + LABEL_WIDTH),
        break_long_words=False,
        break_on_hyphens=False,
    )


def _resources(model: ServiceModel, env: Environment) -> list[str]:
    names = env.names
    protocol = "HTTPS" if env.https else "HTTP"
    rows = [
        ("URL", _url(env)),
        *_dns_rows(env),
        ("Network", _network(env)),
        ("Load balancer", _load_balancer(env)),
        ("Listeners", _listeners(env)),
        (
            "Test listener",
            f"{protocol} :{env.test_listener_port} serves green during a deployment; "
            + _test_listener_sources(env),
        ),
        (
            "Target groups",
            f"{names['target_group_blue']} and {names['target_group_green']}: HTTP :{env.port}, "
            f"IP targets, {env.deregistration_delay_seconds} s deregistration delay",
        ),
        ("Health check", _health_check(env)),
        (
            "ECS",
            f"cluster {names['cluster']}, service {names['service']}, task family {names['task_family']}",
        ),
        ("Tasks", _tasks(env)),
        ("Task count", f"{env.min_tasks}..{env.max_tasks}"),
        ("Scaling", _scaling(env)),
        (
            "CodeDeploy",
            f"application {names['codedeploy_app']}, deployment group {names['deployment_group']}",
        ),
        ("Traffic shift", f"{_strategy(env)} (deployment config {env.deployment_config_name})"),
        ("Approval", _approval(env)),
        ("Blue", f"terminated {env.blue_termination_minutes} min after the switch (the rollback window)"),
        ("Rollback", _rollback(env)),
        ("Alarms", _alarms(env)),
        ("ECR repository", names["ecr_repository"]),
        ("Logs", f"{names['log_group']}, kept {env.log_retention_days} days"),
        (
            "IAM roles",
            f"{names['execution_role']} (pull the image, write logs, read secrets), "
            f"{names['task_role']} (the application), {names['codedeploy_role']} (CodeDeploy)",
        ),
        ("Pipeline", _pipeline(model, env)),
        ("Terraform state", _state(env)),
    ]
    return [line for label, text in rows for line in _row(label, text)]


def _url(env: Environment) -> str:
    if env.dns is None:
        return "http://<the load balancer's DNS name> (no dns block)"
    return f"{'https' if env.https else 'http'}://{env.dns.fqdn}"


def _dns_rows(env: Environment) -> list[tuple[str, str]]:
    if env.dns is None:
        return []
    record = f"the apex of zone {env.dns.zone}" if env.dns.apex else f"{env.dns.fqdn} in zone {env.dns.zone}"
    certificate = "; ACM certificate validated through DNS" if env.https else ""
    return [("DNS", f"Route53 alias record for {record}{certificate}")]


def _network(env: Environment) -> str:
    vpc = env.vpc_id or f"the VPC tagged {env.vpc_tag_key}"
    return (
        f"{vpc}; tasks in the private subnets tagged {_tags(env.private_subnet_tags)}, "
        f"the load balancer in the public subnets tagged {_tags(env.public_subnet_tags)}"
    )


def _tags(tags: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in tags.items())


def _load_balancer(env: Environment) -> str:
    logs = f", access logs to s3://{env.alb_access_logs_bucket}" if env.alb_access_logs_bucket else ""
    protection = "on" if env.alb_deletion_protection else "off"
    return (
        f"{env.names['alb']}: internet-facing application load balancer, idle timeout "
        f"{env.alb_idle_timeout_seconds} s, deletion protection {protection}{logs}"
    )


def _listeners(env: Environment) -> str:
    if env.https:
        return "HTTPS :443 production traffic; HTTP :80 redirects to HTTPS"
    return "HTTP :80 production traffic"


def _health_check(env: Environment) -> str:
    check = env.health_check
    return (
        f"GET {env.health_check_path} every {check['interval_seconds']} s, timeout "
        f"{check['timeout_seconds']} s; healthy after {check['healthy_threshold']} passes, "
        f"unhealthy after {check['unhealthy_threshold']} failures"
    )


def _tasks(env: Environment) -> str:
    size = f"{env.cpu / 1024:g} vCPU, {env.memory / 1024:g} GB, {env.cpu_architecture}"
    if not env.spot:
        return f"{size}, on-demand (FARGATE)"
    return f"{size}, FARGATE_SPOT above an on-demand base of {SPOT_ON_DEMAND_BASE} task"


def _scaling(env: Environment) -> str:
    if not env.scaling_policies:
        return "no target tracking: the count stays where it is set"
    targets = ", ".join(
        SCALING_METRICS[policy.metric].format(policy.target) for policy in env.scaling_policies
    )
    return (
        f"target tracking on {targets}; scale in at most every {env.scale_in_cooldown} s, "
        f"out every {env.scale_out_cooldown} s"
    )


def _strategy(env: Environment) -> str:
    shift = env.traffic_shift
    if shift is None:
        return "all at once"
    if env.strategy == "canary":
        return f"canary: {shift.percent}% for {shift.minutes} min, then the rest"
    steps = len(traffic_shift_steps(env))
    return f"linear: {shift.percent}% more every {shift.minutes} min, {steps} steps"


def _test_listener_sources(env: Environment) -> str:
    """Who reaches the test listener. The load balancer is internet-facing: clients inside the
    VPC reach it from their NAT gateway's public address, so the default source, the VPC's CIDR
    block, admits nobody (an approval wait therefore requires deployment.test_listener_cidrs)."""
    if env.test_listener_cidrs:
        return "reachable from " + ", ".join(env.test_listener_cidrs)
    return (
        "open to the VPC's CIDR block only, which no client matches (the internet-facing load "
        "balancer sees clients in the VPC at their NAT gateway's public address): set "
        "deployment.test_listener_cidrs to try green"
    )


def _approval(env: Environment) -> str:
    if not env.approval_timeout_minutes:
        return "none: production traffic moves as soon as green is healthy"
    return (
        f"wait up to {env.approval_timeout_minutes} min for approve:{env.name} (deploy/execute.sh approve "
        f"{env.name}) after testing green on :{env.test_listener_port}; without it the deployment "
        "stops and blue keeps the traffic"
    )


def _rollback(env: Environment) -> str:
    reasons = {"DEPLOYMENT_FAILURE": "on a failed deployment", "DEPLOYMENT_STOP_ON_ALARM": "on an alarm"}
    if not env.rollback_events:
        return "off"
    return "automatic " + " and ".join(reasons[event] for event in env.rollback_events)


def _alarms(env: Environment) -> str:
    alarms = []
    if env.alarm_http_5xx_percent is not None:
        alarms.append(f"target 5xx above {env.alarm_http_5xx_percent:g}% of requests")
    if env.alarm_p99_latency_ms is not None:
        alarms.append(f"p99 response time above {env.alarm_p99_latency_ms} ms")
    if not alarms:
        return "none"
    return "; ".join(alarms) + " (on both target groups)"


def _pipeline(model: ServiceModel, env: Environment) -> str:
    if model.aws_auth == "access_keys":
        return f"deploys from {model.deploy_branch} with access keys from CI/CD variables"
    role = env.ci_role_arn or "the CI/CD variable AWS_ROLE_ARN"
    return f"deploys from {model.deploy_branch}; GitLab OIDC token, assumes {role}"


def _state(env: Environment) -> str:
    if env.state is None:
        return "local (no state block)"
    state = env.state
    return f"S3 bucket {state.bucket}, key {state.key} ({state.region}), locked by {state.key}.tflock"


def _clock(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def _duration(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(hours, "h"), (minutes, "min"), (seconds, "s")]
    return " ".join(f"{value} {unit}" for value, unit in parts if value) or "0 s"


def _timeline_lines(timeline: Timeline) -> list[str]:
    lines = [
        f"Deployment timeline (best case {_duration(timeline.best_case_seconds)})",
        f"{INDENT}{'at':>7} {'takes':>7} {'green':>6}  step",
    ]
    text_indent = " " * (len(INDENT) + 24)
    for step in timeline.steps:
        takes = "<=" + _clock(step.up_to_seconds) if step.up_to_seconds else _clock(step.seconds)
        lines += textwrap.wrap(
            step.what,
            WIDTH,
            initial_indent=f"{INDENT}{_clock(step.start_seconds):>7} {takes:>7} {step.green_percent:>5}%  ",
            subsequent_indent=text_indent,
        )
    lines.append(f"{INDENT}{_clock(timeline.best_case_seconds):>7} {'':>7} {'':>6}  done")
    if timeline.latest_seconds > timeline.best_case_seconds:
        lines += _row("", f"{_duration(timeline.latest_seconds)} when the approval comes at its deadline")
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _money(amount: float) -> str:
    return f"{amount:,.2f}"


def _amount_row(label: str, text: str, amount: float) -> str:
    start = f"{INDENT}{label.ljust(LABEL_WIDTH)}{text}"
    return start + _money(amount).rjust(WIDTH - len(start))


def _cost_lines(env: Environment, cost: CostEstimate, prices: PriceTable) -> list[str]:
    region_prices = prices.regions[cost.price_region]
    rate = region_prices.fargate[env.cpu_architecture]
    lines = [
        f"Monthly cost ESTIMATE ({prices.currency}, AWS list prices of {prices.date}, {cost.price_region})"
    ]
    if cost.price_region != env.region:
        lines.append(
            f"{INDENT}note: {PRICES_FILE} has no prices for {env.region}: {cost.price_region} prices used"
        )
    lines += _row(
        "Task-hour",
        f"{env.cpu / 1024:g} vCPU x {rate.vcpu_hour:g} + {env.memory / 1024:g} GB x {rate.gb_hour:g} "
        f"= {cost.task_hour:.5f} on-demand",
    )
    for label, tasks, amount in (
        ("Fargate, min", env.min_tasks, cost.fargate_min),
        ("Fargate, max", env.max_tasks, cost.fargate_max),
    ):
        lines.append(_amount_row(label, f"{HOURS_PER_MONTH} h x {_task_mix(env, tasks, prices)}", amount))
    alb = region_prices.alb
    lines.append(
        _amount_row(
            "Load balancer",
            f"{HOURS_PER_MONTH} h x ({alb.hour:g} + {ALB_BASELINE_LCU:g} LCU x {alb.lcu_hour:g})",
            cost.alb,
        )
    )
    lines.append(_amount_row("Total", f"with {_count(env.min_tasks, 'task')}", cost.total_min))
    lines.append(_amount_row("", f"with {_count(env.max_tasks, 'task')}", cost.total_max))
    return lines


def _task_mix(env: Environment, tasks: int, prices: PriceTable) -> str:
    on_demand, spot = spot_split(env, tasks)
    if not spot:
        return _count(tasks, "on-demand task")
    return f"({on_demand} on-demand + {spot} Spot at -{prices.spot_discount:.0%})"


def _total_lines(environments: list[Environment], costs: list[CostEstimate], prices: PriceTable) -> list[str]:
    columns = 14
    lines = [
        f"Monthly cost ESTIMATE ({prices.currency}, AWS list prices of {prices.date})",
        f"{INDENT}{'':<{LABEL_WIDTH}}{'min tasks':>{columns}}{'max tasks':>{columns}}",
    ]
    rows = [(env.name, cost.total_min, cost.total_max) for env, cost in zip(environments, costs, strict=True)]
    rows.append(("total", sum(c.total_min for c in costs), sum(c.total_max for c in costs)))
    for name, low, high in rows:
        lines.append(f"{INDENT}{name:<{LABEL_WIDTH}}{_money(low):>{columns}}{_money(high):>{columns}}")
    return lines


def _assumptions(prices: PriceTable) -> list[str]:
    items = [
        f"A Fargate task takes {TASK_START_SECONDS} s from launch to a started container (placement, "
        "image pull, start); large images and slow starts take longer.",
        "Green is healthy after healthy_threshold passing health checks interval_seconds apart, "
        "counted from its start; CodeDeploy's own API calls are not counted.",
        "Canary and linear steps hold their minutes each; the last step moves the rest of the traffic. "
        "Times assume an approval, if any, given at once.",
        f"Costs: {HOURS_PER_MONTH} hours a month with every task running all month; the load balancer at "
        f"{ALB_BASELINE_LCU:g} LCU (a low-traffic baseline); Fargate Spot at {prices.spot_discount:.0%} "
        f"below on-demand above a base of {SPOT_ON_DEMAND_BASE} on-demand task. {prices.spot_note}",
        "Not counted: data transfer, NAT gateways, public IPv4 addresses, CloudWatch, ECR storage, "
        "Route53, and the extra green tasks while a deployment runs.",
        f"Prices ({prices.date}): {prices.source}",
    ]
    lines = ["Assumptions"]
    for item in items:
        lines += textwrap.wrap(
            item,
            WIDTH,
            initial_indent=INDENT + "- ",
            subsequent_indent=INDENT + "  ",
            break_on_hyphens=False,
        )
    return lines
