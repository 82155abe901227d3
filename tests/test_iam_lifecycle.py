"""The deploy role's policy, proven call by call over a whole lifecycle on the emulator.

An emulator of its own records every request it receives
(bluegreen.emulator.recorder, $BLUEGREEN_RECORD_REQUESTS). An administrator (the
emulator's keys of the environment's account) seeds the network and applies the
generated bootstrap root (deploy/terraform/bootstrap/ENV): GitLab's OIDC provider,
the permissions boundary, the deploy role with its trust policy and its managed
policies (the documents of bluegreen.iam), and the state bucket when
the spec has `state:`. Then the generated deploy/execute.sh runs as CI runs it: it assumes
the deploy role with a GitLab ID token (GITLAB_OIDC_TOKEN, AWS_ROLE_ARN; the
emulator accepts any token), and terraform and the AWS CLI use that session:

dockerize (ECR created by a targeted apply, image pushed through the docker test
double), deploy (first apply of the whole stack, a task definition revision, a
CodeDeploy deployment), plan (a second plan), a spec change rendered again and
deployed (apply of an in-place change, a second deployment), status, rollback of a
running deployment (StopDeployment), rollback by redeploying the last good
revision, destroy. Where the environment waits for an approval, every deployment
is held in Ready (green on the test listener) until `execute.sh approve` runs beside
the waiting deploy, as the pipeline's approve:ENV job does (ContinueDeployment).

Each request signed by a session of the deploy role becomes the checks AWS makes
for it (action, resource ARN, condition keys; PassRole, tag-on-create, service-linked
roles, CreateDeployment's reads) and is evaluated against the role's policies
(bluegreen.emulator.evaluator). The test asserts: no check denied, and no granted
action left unused but those only a real registry push or pull makes
(bluegreen.iam.REGISTRY_ONLY_ACTIONS). Terraform state goes to the emulator's S3
and DynamoDB through the generated S3 backend when the spec has `state:`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from bluegreen import iam
from bluegreen.emulator import evaluator, recorder, sandbox
from bluegreen.model import Environment
from bluegreen.render import render_new
from bluegreen.validate import validate_file

from tests.support import deployments, execute_sh
from tests.support.rendering import spec_id
from tests.support.template_repo import PROJECT_ROOT

pytestmark = pytest.mark.terraform

SCRIPT_TIMEOUT = 600  # a safety net against a hung script, not an assertion about speed

SPEC_DIR = PROJECT_ROOT / "tests" / "specs"
# The TLS policy a later edit of service.yaml moves the HTTPS listeners to.
LATER_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
# The default run: the cheapest stack (no DNS, local state) and the richest (HTTPS, DNS, spot,
# rollback alarms, S3 state with its lock file) in both its environments: staging (a canary
# config, its own account) and production (a linear config, deployments held for approval).
# The other specs and environments run with `pytest -m slow` (a few minutes each).
CASES = [
    pytest.param((SPEC_DIR / "minimal.yaml", "production"), id="minimal-production"),
    pytest.param((SPEC_DIR / "full.yaml", "staging"), id="full-staging"),
    pytest.param((SPEC_DIR / "full.yaml", "production"), id="full-production"),
    *(
        pytest.param((spec, env), id=f"{spec_id(spec)}-{env}", marks=pytest.mark.slow)
        for spec, env in [
            (SPEC_DIR / "apex-canary.yaml", "dev"),
            (SPEC_DIR / "plain-http.yaml", "production"),
            (PROJECT_ROOT / "examples" / "hello-world" / "service.yaml", "production"),
            (SPEC_DIR / "apex-canary.yaml", "production"),
        ]
    ),
]


@dataclass
class Lifecycle:
    repo: Path
    env: Environment
    service: str
    emulator: sandbox.Emulator
    admin: sandbox.Credentials
    role_arn: str
    script_env: dict[str, str]
    log: list[str]
    state_bucket: StateBucket | None = None

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = execute_sh.run(self.repo, {**self.script_env, **extra}, *args, timeout=SCRIPT_TIMEOUT)
        stdout, stderr = result.stdout, result.stderr
        self.log.append(f"$ execute.sh {' '.join(args)} (exit {result.returncode})\n{stdout}\n{stderr}")
        assert result.returncode == 0, f"execute.sh {' '.join(args)} failed:\n{stdout}\n{stderr}"
        return result

    def client(self, service: str) -> Any:
        return sandbox.client(service, self.emulator.endpoint, self.env.region, self.admin)

    def deploying(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """execute.sh ARGS, a command that deploys; where the environment waits for an approval,
        `approve` runs once the deployment waits in Ready, while ARGS still runs."""
        if not self.env.approval_timeout_minutes:
            return self.run(*args, **extra)
        codedeploy = self.client("codedeploy")

        def latest() -> dict[str, Any]:
            # GetDeploymentGroup: unlike GetDeployment, it does not move the emulated deployment on.
            try:
                group = codedeploy.get_deployment_group(
                    applicationName=self.env.names["codedeploy_app"],
                    deploymentGroupName=self.env.names["deployment_group"],
                )["deploymentGroupInfo"]
            except codedeploy.exceptions.ClientError:  # not created yet: the first deploy's apply
                return {}
            return group.get("lastAttemptedDeployment") or {}

        before, approved = latest().get("deploymentId"), False
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(self.run, *args, **extra)
            deadline = time.monotonic() + SCRIPT_TIMEOUT
            while not approved and not running.done() and time.monotonic() < deadline:
                now = latest()
                if now.get("deploymentId") != before and now.get("status") == "Ready":
                    approved = "approved deployment" in self.run("approve", self.env.name).stdout
                time.sleep(0.2)
            result = running.result()
        # Every deployment waits for its approval; the first release of a new service has none.
        assert approved or "the new service already runs" in result.stdout, result.stdout
        return result


@dataclass
class StateBucket:
    """The state bucket as a bootstrap root made it: its ARN, its account, the policy it got."""

    arn: str
    account: str
    policy: dict[str, Any]

    def holds(self, resource: str) -> bool:
        return resource == self.arn or resource.startswith(f"{self.arn}/")


def _bootstrap_as_administrator(
    repo: Path, endpoint: str, env: Environment, admin: sandbox.Credentials
) -> str:
    """Apply the generated bootstrap root with the administrator's keys; returns the deploy role's ARN."""
    root = repo / "deploy" / "terraform" / "bootstrap" / env.name
    sandbox.write_provider_override(root, endpoint, env.region, credentials=admin)
    sandbox.terraform(root, "init")
    sandbox.terraform(
        root, "apply", "-auto-approve", "-input=false", "-var=gitlab_project_path=group/project", timeout=600
    )
    return json.loads(sandbox.terraform(root, "output", "-json", "deploy_role_arn").stdout)


def _state_bucket(endpoint: str, env: Environment, owner: Environment | None) -> StateBucket | None:
    """The state bucket of `env`, which the bootstrap root of `owner` (the first environment
    using it) created, with the policy that root gave it.

    The policy is kept for the evaluation (_evaluated) and taken off the emulator: moto
    judges object requests by a bucket policy itself, without a request context to
    evaluate its conditions with (aws:SecureTransport, aws:PrincipalArn), and takes an
    unmet condition for a deny, of Allow statements too, so it would refuse every state
    request that the policy allows on AWS.
    """
    if env.state is None or owner is None:
        return None
    admin = sandbox.credentials_for_account(endpoint, owner.account_id)
    s3 = sandbox.client("s3", endpoint, env.state.region, admin)
    policy = json.loads(s3.get_bucket_policy(Bucket=env.state.bucket)["Policy"])
    s3.delete_bucket_policy(Bucket=env.state.bucket)
    return StateBucket(f"arn:aws:s3:::{env.state.bucket}", admin.account_id, policy)


def _override(root: Path, endpoint: str, env: Environment) -> None:
    """The emulator override of an environment root: the provider takes the assumed role's
    keys from the environment; the generated S3 backend (if any) keeps state in the emulator."""
    text = sandbox.provider_override_text(endpoint, env.region, environment_credentials=True)
    if env.state:
        state = env.state
        text += "\n".join(
            [
                "terraform {",
                '  backend "s3" {',
                f'    bucket                      = "{state.bucket}"',
                f'    key                         = "{state.key}"',
                f'    region                      = "{state.region}"',
                "    use_lockfile                = true",
                "    encrypt                     = true",
                "    use_path_style              = true",
                "    skip_credentials_validation = true",
                "    skip_requesting_account_id  = true",
                "    skip_metadata_api_check     = true",
                "    skip_region_validation      = true",
                "    skip_s3_checksum            = true",
                f'    endpoints = {{ s3 = "{endpoint}", sts = "{endpoint}", iam = "{endpoint}" }}',
                "  }",
                "}",
                "",
            ]
        )
    (root / sandbox.OVERRIDE_FILE).write_text(text)


def _changed_spec(spec: Path, env: Environment, work: Path) -> Path:
    """The spec with later edits a user makes, all changed in place by the deploy role:

    another health check path and blue termination wait for `env` (the target groups,
    the deployment group); another test listener port and, with HTTPS, another TLS
    policy (elasticloadbalancing:ModifyListener on both listeners, Service Authorization
    Reference: https://docs.aws.amazon.com/service-authorization/latest/reference/list_elasticloadbalancingv2.html);
    another owner and a new tag on every resource, one of the spec's own tags changed
    and another taken out where it has some (each service's TagResource/AddTags, and
    UntagResource/RemoveTags/DeleteTags: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html).
    Rendering the original spec again afterwards takes the owner and the tag back out."""
    data = yaml.safe_load(spec.read_text())
    overrides = data.setdefault("environments", {}).setdefault(env.name, {}) or {}
    data["environments"][env.name] = overrides
    overrides.setdefault("app", {})["health_check_path"] = "/ready"
    deployment = overrides.setdefault("deployment", {})
    deployment["blue_termination_minutes"] = env.blue_termination_minutes + 10
    deployment["test_listener_port"] = env.test_listener_port + 1
    if env.https:
        assert env.alb_ssl_policy != LATER_SSL_POLICY
        overrides.setdefault("alb", {})["ssl_policy"] = LATER_SSL_POLICY
    data["owner"] = f"{data.get('owner') or 'team'}-later"
    tags = dict(data.get("tags") or {})
    for key in list(tags)[:1]:
        del tags[key]
    for key in list(tags)[:1]:
        tags[key] = f"{tags[key]}-later"
    data["tags"] = {**tags, "Tier": "web"}
    changed = work / "changed.yaml"
    changed.write_text(yaml.safe_dump(data, sort_keys=False))
    return changed


@pytest.fixture(params=CASES, scope="module")
def lifecycle(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Lifecycle, Path]]:
    spec, env_name = request.param
    work = tmp_path_factory.mktemp(f"lifecycle-{spec_id(spec)}-{env_name}")
    record = work / "requests.jsonl"
    with sandbox.Emulator(patched=True, env={recorder.RECORD_ENV: str(record)}) as emulator:
        repo = render_new(spec, work / "repo")
        model = validate_file(spec)
        env = next(e for e in model.environments if e.name == env_name)
        admin = sandbox.credentials_for_account(emulator.endpoint, env.account_id)
        sandbox.seed_environment(emulator.endpoint, env)
        owner = iam.state_bucket_owner(model, env)
        if owner is not None and owner is not env:
            # The bootstrap creating the shared bucket first, by its account's administrator
            # (README, "Set up an account"): for full.yaml's production, staging's, in account
            # 210987654321, whose bucket policy grants production's deploy role its state.
            owner_admin = sandbox.credentials_for_account(emulator.endpoint, owner.account_id)
            _bootstrap_as_administrator(repo, emulator.endpoint, owner, owner_admin)
        role_arn = _bootstrap_as_administrator(repo, emulator.endpoint, env, admin)
        state_bucket = _state_bucket(emulator.endpoint, env, owner)
        root = sandbox.environment_root(repo, env.name)
        _override(root, emulator.endpoint, env)
        script_env = execute_sh.environment(
            work,
            emulator.endpoint,
            env.region,
            GITLAB_OIDC_TOKEN="gitlab-id-token",
            AWS_ROLE_ARN=role_arn,
            CI_PROJECT_ID="42",
            CI_PIPELINE_ID="7",
            IMAGE_TAG="1111111111111111111111111111111111111111",
        )
        life = Lifecycle(repo, env, model.name, emulator, admin, role_arn, script_env, [], state_bucket)
        _run_lifecycle(life, spec, work)
        yield life, record


def _run_lifecycle(life: Lifecycle, spec: Path, work: Path) -> None:
    env = life.env
    life.run("dockerize", env.name)
    life.deploying("deploy", env.name)
    life.run("plan", env.name)
    # A spec change, rendered again and deployed: an in-place update, then a second release.
    rerendered = render_new(_changed_spec(spec, env, work), work / "rerendered")
    terraform_dir = Path("deploy", "terraform")
    shutil.copytree(rerendered / terraform_dir, life.repo / terraform_dir, dirs_exist_ok=True)
    second = "2222222222222222222222222222222222222222"
    life.run("dockerize", env.name, IMAGE_TAG=second)
    life.deploying("deploy", env.name, IMAGE_TAG=second)
    life.run("status", env.name)
    _assert_changed_in_place(life)
    # The original spec again: the owner and the tag taken back out, the listeners back.
    original = render_new(spec, work / "original")
    shutil.copytree(original / terraform_dir, life.repo / terraform_dir, dirs_exist_ok=True)
    life.run("dockerize", env.name, IMAGE_TAG=second)
    life.deploying("deploy", env.name, IMAGE_TAG=second)
    # A deployment still running (created by the administrator), stopped by rollback.
    codedeploy = life.client("codedeploy")
    ecs = life.client("ecs")
    service = ecs.describe_services(cluster=env.names["cluster"], services=[env.names["service"]])[
        "services"
    ][0]
    running = deployments.create(codedeploy, env.names, service["taskDefinition"], env.port)
    stopped = life.run("rollback", env.name)
    assert f"stopped deployment {running}" in stopped.stdout
    redeployed = life.deploying("rollback", env.name)
    assert "rolling back from" in redeployed.stdout and "runs" in redeployed.stdout
    life.run("destroy", env.name, CONFIRM_DESTROY=env.name)


def _assert_changed_in_place(life: Lifecycle) -> None:
    """What the later edits changed, as AWS (the emulator) now answers it."""
    env = life.env
    elb = life.client("elbv2")
    (balancer,) = elb.describe_load_balancers(Names=[env.names["alb"]])["LoadBalancers"]
    listeners = elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert env.test_listener_port + 1 in {listener["Port"] for listener in listeners}
    if env.https:
        secure = [listener for listener in listeners if listener["Protocol"] == "HTTPS"]
        assert secure and {listener["SslPolicy"] for listener in secure} == {LATER_SSL_POLICY}
    tags = {
        tag["Key"]: tag["Value"]
        for tag in elb.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    }
    assert tags["Tier"] == "web" and tags["Owner"].endswith("-later"), tags
    for key in env.tags:
        assert key not in tags or tags[key].endswith("-later"), tags


def _evaluated(
    life: Lifecycle, record: Path
) -> tuple[list[tuple[recorder.Check, evaluator.Decision]], list[recorder.Request]]:
    """Each check of the deploy role's requests, decided against its policies; on the state
    bucket also against the bucket's policy, in the bucket's account (from another account
    both must allow). terraform and the AWS CLI reach AWS over HTTPS only: the emulator's
    plain HTTP is no request AWS would see, so the checks carry aws:SecureTransport true
    (and the bucket's TLS-only deny is still evaluated)."""
    requests = list(recorder.read(record))
    sessions = recorder.role_sessions(requests, life.role_arn)
    assert sessions, "execute.sh never assumed the deploy role"
    account = life.env.account_id or sandbox.EMULATOR_ACCOUNT_ID
    checks = recorder.Mapper(account).checks(requests, sessions)
    policies = [
        json.loads(json.dumps(d).replace(iam.ACCOUNT, account))
        for d in iam.deployer_policies(life.service, life.env)
    ]
    principal = evaluator.Principal(life.role_arn, account)
    decisions = []
    for check in checks:
        context = {**check.context_dict(), "aws:SecureTransport": ["true"]}
        bucket = life.state_bucket if life.state_bucket and life.state_bucket.holds(check.resource) else None
        decision = evaluator.evaluate(
            policies,
            check.action,
            check.resource,
            context,
            resource_policy=bucket.policy if bucket else None,
            principal=principal,
            resource_account=bucket.account if bucket else None,
        )
        decisions.append((check, decision))
    return decisions, requests


def test_every_request_of_the_lifecycle_is_allowed(lifecycle):
    life, record = lifecycle
    decisions, _ = _evaluated(life, record)
    assert len(decisions) > 300, "the whole lifecycle ran as the deploy role"
    denied = sorted(
        {
            f"{check.action} on {check.resource} ({check.implicit or check.operation}) "
            f"context={check.context_dict()}: {decision.reason}"
            for check, decision in decisions
            if not decision.allowed
        }
    )
    assert denied == [], "\n".join(denied)


def test_no_granted_action_goes_unused(lifecycle):
    life, record = lifecycle
    decisions, _ = _evaluated(life, record)
    used = {check.action for check, _ in decisions}
    granted = set(evaluator.matching_actions(iam.deployer_policies(life.service, life.env)))
    unused = granted - used - set(iam.REGISTRY_ONLY_ACTIONS)
    assert unused == set(), sorted(unused)
