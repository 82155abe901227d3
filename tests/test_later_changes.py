"""Later changes and other partitions, read in the rendered files.

The deploy role making later changes (a TLS policy, tags and owner, a test listener
port) is proved request by request in tests/test_iam_lifecycle.py; here: the rendered
repository names no partition of its own (`arn:aws:` written out would be wrong in
China and AWS GovCloud (US): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html),
the policies of a region of another partition name that partition, and alb.ssl_policy
reaches the HTTPS listeners or is refused in one located line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bluegreen.render import render_new

from tests.support.hcl import block, body, parse, values
from tests.support.rendering import SPECS, rendered, spec_id
from tests.support.template_repo import PROJECT_ROOT

MINIMAL = PROJECT_ROOT / "tests" / "specs" / "minimal.yaml"
FULL = PROJECT_ROOT / "tests" / "specs" / "full.yaml"


def _strings(repo: Path) -> list[tuple[Path, str]]:
    """Every string of the rendered Terraform (python-hcl2) and JSON documents, by file."""
    found = []
    terraform = repo / "deploy" / "terraform"
    for file in sorted(terraform.rglob("*.tf")):
        if file.name.endswith("_override.tf"):
            continue
        found += [(file, v) for v in values(body(parse(file))) if isinstance(v, str)]
    for file in sorted(terraform.rglob("*.json")):

        def walk(node: object, file: Path = file) -> None:
            if isinstance(node, dict):
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
            elif isinstance(node, str):
                found.append((file, node))

        walk(json.loads(file.read_text()))
    return found


@pytest.mark.parametrize("spec", SPECS, ids=[spec_id(s) for s in SPECS])
def test_rendered_terraform_writes_no_partition_out(spec):
    """Terraform takes the partition from data.aws_partition (the JSON policies take it from the
    region: test_policies_of_a_region_name_its_partition). The spec's own ARNs (secrets,
    ci.role_arn) are the user's and stay as written."""
    repo = rendered(spec)
    own = _spec_strings(yaml.safe_load(spec.read_text()))
    literal = [
        f"{file.relative_to(repo)}: {text}"
        for file, text in _strings(repo)
        if file.suffix == ".tf" and "arn:aws:" in text and not any(value in text for value in own)
    ]
    assert literal == []
    # The environment root and the bootstrap root look the partition up.
    for root in (repo / "deploy" / "terraform" / "environments").iterdir():
        assert parse(root / "main.tf").blocks("data", "aws_partition", "current")
        assert (
            "data.aws_partition.current.partition"
            in block(parse(root / "main.tf"), "locals")["permissions_boundary_arn"]
        )
    for root in (repo / "deploy" / "terraform" / "bootstrap").iterdir():
        assert parse(root / "main.tf").blocks("data", "aws_partition", "current")


def _spec_strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _spec_strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _spec_strings(value)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize(
    ("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eu-west-1", "aws")]
)
def test_policies_of_a_region_name_its_partition(tmp_path, region, partition):
    data = yaml.safe_load(FULL.read_text())
    data["aws"]["region"] = region
    # The spec's own ARNs, written for that partition and region.
    for name, arn in data["app"]["secrets"].items():
        data["app"]["secrets"][name] = arn.replace("arn:aws:", f"arn:{partition}:").replace(
            "us-west-2", region
        )
    for env in data["environments"].values():
        for name, arn in ((env.get("app") or {}).get("secrets") or {}).items():
            env["app"]["secrets"][name] = arn.replace("arn:aws:", f"arn:{partition}:").replace(
                "us-west-2", region
            )
        if (env.get("ci") or {}).get("role_arn"):
            env["ci"]["role_arn"] = env["ci"]["role_arn"].replace("arn:aws:", f"arn:{partition}:")
    data["ci"]["role_arn"] = data["ci"]["role_arn"].replace("arn:aws:", f"arn:{partition}:")
    spec = tmp_path / "service.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    repo = render_new(spec, tmp_path / "repo")
    arns = [text for file, text in _strings(repo) if file.suffix == ".json" and text.startswith("arn:")]
    assert arns, "the policies name resources by ARN"
    assert {arn.split(":")[1] for arn in arns} == {partition}
    for root in (repo / "deploy" / "terraform" / "bootstrap").iterdir():
        documents = json.loads((root / "deploy-policies.json").read_text())
        resources = [r for d in documents for s in d["Statement"] for r in _listed(s["Resource"])]
        assert resources and all(r == "*" or r.startswith(f"arn:{partition}:") for r in resources)
        boundary = json.loads((root / "permissions-boundary.json").read_text())
        assert any(
            s.get("Resource", "").startswith(f"arn:{partition}:iam::") for s in boundary["Statement"]
        ), boundary
    policy = subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", "policy", "--env", "production", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert policy.returncode == 0, policy.stderr
    assert f"arn:{partition}:" in policy.stdout and "arn:aws:" not in policy.stdout.replace(
        f"arn:{partition}:", ""
    )


def _listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_ssl_policy_of_the_spec_reaches_the_https_listeners(tmp_path):
    data = yaml.safe_load(FULL.read_text())
    data["alb"]["ssl_policy"] = "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"
    spec = tmp_path / "service.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    repo = render_new(spec, tmp_path / "repo")
    main = parse(repo / "deploy" / "terraform" / "environments" / "production" / "main.tf")
    assert block(main, "module", "alb")["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"
    # The default where the spec says nothing; no TLS policy without HTTPS.
    default = parse(rendered(FULL) / "deploy" / "terraform" / "environments" / "production" / "main.tf")
    assert block(default, "module", "alb")["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    plain = parse(rendered(MINIMAL) / "deploy" / "terraform" / "environments" / "production" / "main.tf")
    assert "ssl_policy" not in block(plain, "module", "alb")


def test_an_ssl_policy_allowing_old_tls_is_one_located_line(tmp_path):
    spec = tmp_path / "service.yaml"
    text = FULL.read_text().replace(
        "  idle_timeout_seconds: 120\n",
        "  idle_timeout_seconds: 120\n  ssl_policy: ELBSecurityPolicy-2016-08\n",
    )
    spec.write_text(text)
    line = text.splitlines().index("  ssl_policy: ELBSecurityPolicy-2016-08") + 1
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen.cli", "new", str(spec), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"{spec}:{line}:3: alb.ssl_policy: expected "), result.stderr
    assert "ELBSecurityPolicy-2016-08" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
