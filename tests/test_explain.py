"""`bluegreen explain`: the deployment timeline, the monthly cost estimate and the text."""

from __future__ import annotations

import pytest
from bluegreen.cli import main
from bluegreen.errors import SpecError
from bluegreen.explain import (
    ALB_BASELINE_LCU,
    FALLBACK_REGION,
    HOURS_PER_MONTH,
    TASK_START_SECONDS,
    deployment_timeline,
    estimate_cost,
    explain,
    load_prices,
    traffic_shift_steps,
)
from bluegreen.loader import parse_spec
from bluegreen.validate import validate, validate_file

from tests.support.template_repo import PROJECT_ROOT

FULL = PROJECT_ROOT / "tests" / "specs" / "full.yaml"
HELLO_WORLD = PROJECT_ROOT / "examples" / "hello-world" / "service.yaml"
SPECS = [*sorted((PROJECT_ROOT / "tests" / "specs").glob("*.yaml")), HELLO_WORLD]
# The defaults: tasks start, then 2 passing health checks 10 s apart; blue kept 5 min, drained 30 s.
GREEN_HEALTHY = TASK_START_SECONDS + 2 * 10
BLUE_GONE = 5 * 60 + 30


def spec_text(text: str = "", *, region: str = "us-east-1", app: str = "") -> str:
    """A small service spec in `region`, `app` added to its app block, `text` appended."""
    return (
        f"schema_version: 1\nname: orders\naws: {{region: {region}}}\n"
        f"app: {{runtime: python, port: 8080{', ' + app if app else ''}}}\n{text}"
    )


def env_of(text: str = "", *, region: str = "us-east-1", app: str = ""):
    """The one environment of `spec_text(...)`."""
    (env,) = validate(parse_spec(spec_text(text, region=region, app=app))).environments
    return env


def shift_starts(env) -> list[tuple[int, int]]:
    """(start second, share on green) of each traffic-shift step of the timeline."""
    steps = deployment_timeline(env).steps
    return [(step.start_seconds, step.green_percent) for step in steps if "production traffic" in step.what][
        1:
    ]


# --- timeline ---------------------------------------------------------------------------------


def test_canary_holds_its_share_for_its_minutes_then_moves_the_rest():
    env = env_of("deployment: {strategy: canary, canary: {percent: 10, minutes: 5}}")
    assert traffic_shift_steps(env) == [(10, 300), (100, 0)]
    assert shift_starts(env) == [(GREEN_HEALTHY, 10), (GREEN_HEALTHY + 300, 100)]
    assert deployment_timeline(env).best_case_seconds == GREEN_HEALTHY + 300 + BLUE_GONE


def test_linear_20_percent_every_2_minutes_is_5_steps():
    env = env_of("deployment: {strategy: linear, linear: {percent: 20, minutes: 2}}")
    assert traffic_shift_steps(env) == [(20, 120), (40, 120), (60, 120), (80, 120), (100, 0)]
    assert shift_starts(env) == [(GREEN_HEALTHY + 120 * step, 20 * (step + 1)) for step in range(5)]
    assert deployment_timeline(env).best_case_seconds == GREEN_HEALTHY + 4 * 120 + BLUE_GONE


def test_linear_steps_round_up_and_end_at_100_percent():
    env = env_of("deployment: {strategy: linear, linear: {percent: 30, minutes: 1}}")
    assert traffic_shift_steps(env) == [(30, 60), (60, 60), (90, 60), (100, 0)]


def test_all_at_once_moves_everything_in_one_step():
    env = env_of()
    assert traffic_shift_steps(env) == [(100, 0)]
    assert shift_starts(env) == [(GREEN_HEALTHY, 100)]
    assert deployment_timeline(env).best_case_seconds == GREEN_HEALTHY + BLUE_GONE


def test_green_is_healthy_after_the_threshold_times_the_interval():
    env = env_of(app="health_check: {interval_seconds: 30, healthy_threshold: 5}")
    start, health = deployment_timeline(env).steps[:2]
    assert (start.start_seconds, start.seconds) == (0, TASK_START_SECONDS)
    assert (health.start_seconds, health.seconds) == (TASK_START_SECONDS, 150)


def test_an_approval_window_waits_at_most_its_minutes_before_traffic_moves():
    waiting = deployment_timeline(
        env_of("deployment: {approval_timeout_minutes: 30, test_listener_cidrs: [198.51.100.0/24]}")
    )
    at_once = deployment_timeline(env_of("deployment: {approval_timeout_minutes: 0}"))
    (approval,) = [step for step in waiting.steps if step.up_to_seconds]
    assert (approval.start_seconds, approval.seconds, approval.up_to_seconds) == (GREEN_HEALTHY, 0, 1800)
    assert approval.green_percent == 0 and ":8443" in approval.what
    assert waiting.best_case_seconds == at_once.best_case_seconds
    assert waiting.latest_seconds == waiting.best_case_seconds + 1800
    assert at_once.latest_seconds == at_once.best_case_seconds
    assert not any(step.up_to_seconds for step in at_once.steps)


def test_blue_termination_then_deregistration_close_the_timeline():
    env = env_of("deployment: {blue_termination_minutes: 15, deregistration_delay_seconds: 20}")
    *_, switch, blue, drain = deployment_timeline(env).steps
    assert (blue.start_seconds, blue.seconds) == (switch.start_seconds, 900)
    assert (drain.start_seconds, drain.seconds) == (switch.start_seconds + 900, 20)
    assert deployment_timeline(env).best_case_seconds == GREEN_HEALTHY + 900 + 20


# --- cost -------------------------------------------------------------------------------------


def test_the_price_table_names_its_date_source_and_regions():
    prices = load_prices()
    assert prices.date and prices.source and prices.currency == "USD"
    assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"} <= prices.regions.keys()
    assert 0 < prices.spot_discount < 1
    for region in prices.regions.values():
        assert region.fargate["ARM64"].vcpu_hour < region.fargate["X86_64"].vcpu_hour
        assert region.fargate["ARM64"].gb_hour < region.fargate["X86_64"].gb_hour


def test_fargate_costs_vcpu_hours_plus_gb_hours_at_min_and_max_tasks():
    env = env_of("compute: {cpu: 512, memory: 1024}\nscaling: {min: 2, max: 5}")
    rate = load_prices().regions["us-east-1"].fargate["X86_64"]
    task_hour = 0.5 * rate.vcpu_hour + 1 * rate.gb_hour
    cost = estimate_cost(env, load_prices())
    assert cost.task_hour == pytest.approx(task_hour)
    assert cost.fargate_min == pytest.approx(HOURS_PER_MONTH * task_hour * 2)
    assert cost.fargate_max == pytest.approx(HOURS_PER_MONTH * task_hour * 5)
    assert cost.total_max - cost.total_min == pytest.approx(cost.fargate_max - cost.fargate_min)


def test_the_load_balancer_costs_its_hours_and_the_baseline_lcu():
    alb = load_prices().regions["eu-west-1"].alb
    cost = estimate_cost(env_of(region="eu-west-1"), load_prices())
    assert cost.alb == pytest.approx(HOURS_PER_MONTH * (alb.hour + ALB_BASELINE_LCU * alb.lcu_hour))
    assert cost.total_min == pytest.approx(cost.fargate_min + cost.alb)


def test_arm64_is_cheaper_than_x86():
    x86 = estimate_cost(env_of("compute: {architecture: x86_64}"), load_prices())
    arm = estimate_cost(env_of("compute: {architecture: arm64}"), load_prices())
    assert arm.fargate_min < x86.fargate_min and arm.fargate_max < x86.fargate_max
    assert arm.alb == x86.alb


def test_spot_keeps_one_on_demand_task_and_prices_the_rest_at_the_spot_discount():
    prices = load_prices()
    on_demand = estimate_cost(env_of("scaling: {min: 1, max: 4}"), prices)
    spot = estimate_cost(env_of("compute: {spot: true}\nscaling: {min: 1, max: 4}"), prices)
    one_task = HOURS_PER_MONTH * on_demand.task_hour
    assert spot.fargate_min == pytest.approx(on_demand.fargate_min) == pytest.approx(one_task)
    assert spot.fargate_max == pytest.approx(one_task * (1 + 3 * (1 - prices.spot_discount)))
    assert spot.fargate_max < on_demand.fargate_max


def test_a_region_missing_from_the_price_table_uses_us_east_1_and_says_so():
    prices = load_prices()
    elsewhere = env_of(region="ap-southeast-2")
    assert "ap-southeast-2" not in prices.regions
    cost = estimate_cost(elsewhere, prices)
    assert cost.price_region == FALLBACK_REGION == "us-east-1"
    assert cost == estimate_cost(env_of(region="us-east-1"), prices)
    text = explain(validate(parse_spec(spec_text(region="ap-southeast-2"))))
    assert "prices.json has no prices for ap-southeast-2: us-east-1 prices used" in text


# --- text -------------------------------------------------------------------------------------


def test_env_selects_one_environment():
    model = validate_file(FULL)
    staging = explain(model, "staging")
    assert "== staging (us-west-2) " in staging
    assert "== production" not in staging and "== all environments" not in staging
    everything = explain(model)
    assert "== staging (us-west-2) " in everything and "== production (us-west-2) " in everything
    assert "== all environments " in everything


def test_an_unknown_env_is_a_spec_error_naming_the_known_ones():
    with pytest.raises(SpecError) as raised:
        explain(validate_file(FULL), "qa", source="full.yaml")
    assert str(raised.value) == (
        "full.yaml: --env: expected one of the environments staging, production, found string 'qa'"
    )


@pytest.mark.parametrize("spec", SPECS, ids=lambda path: path.stem)
def test_the_text_is_plain_and_fits_80_columns(spec):
    text = explain(validate_file(spec))
    assert "\x1b" not in text and "ESTIMATE" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_cli_explains_hello_world(capsys):
    assert main(["explain", str(HELLO_WORLD)]) == 0
    out = capsys.readouterr().out
    cost = estimate_cost(validate_file(HELLO_WORLD).environments[0], load_prices())
    for line in [
        "== production (us-west-2) ",
        "  URL              https://hello.mycompany.com",
        "  Listeners        HTTPS :443 production traffic; HTTP :80 redirects to HTTPS",
        "  Tasks            0.5 vCPU, 1 GB, X86_64, on-demand (FARGATE)",
        "  Task count       2..4",
        "  Traffic shift    canary: 10% for 5 min, then the rest (deployment config",
        "  ECR repository   hello-world-production",
        "  Logs             /ecs/hello-world-production, kept 30 days",
        "Deployment timeline (best case 11 min 50 s)",
        "     1:20    5:00    10%  canary: 10% of production traffic on green",
        "     6:20    5:00   100%  blue kept running for rollback, then terminated",
        "    11:50                 done",
        f"Monthly cost ESTIMATE (USD, AWS list prices of {load_prices().date}, us-west-2)",
        f"with 2 tasks{cost.total_min:>{80 - 31},.2f}",
        f"with 4 tasks{cost.total_max:>{80 - 31},.2f}",
    ]:
        assert line in out, line


def test_cli_explains_the_full_spec(capsys):
    assert main(["explain", str(FULL), "--env", "production"]) == 0
    out = capsys.readouterr().out
    for line in [
        "  Task count       2..10",
        "  Traffic shift    linear: 20% more every 2 min, 5 steps (deployment config",
        "     1:20 <=30:00     0%  approval: try green on :8443, then approve:production",
        "     9:20    0:00   100%  linear step 5/5: 100% of production traffic on green",
        "54 min 40 s when the approval comes at its deadline",
        "(1 on-demand + 9 Spot at -70%)",
        "S3 bucket my-terraform-state, key",
    ]:
        assert line in out, line
    assert "== staging" not in out


def test_cli_rejects_an_unknown_env_with_exit_2(capsys):
    assert main(["explain", str(FULL), "--env", "qa"]) == 2
    err = capsys.readouterr().err
    assert "--env: expected one of the environments staging, production, found string 'qa'" in err
