"""The deploy role's policy: no wildcard actions, '*' resources only where AWS allows nothing narrower."""

from __future__ import annotations

import json

import pytest

from generator.iam import deployer_policy, deployer_trust_policy
from generator.validate import validate_file
from tests.support.rendering import SPECS, spec_id

ENVIRONMENTS = [(spec, env) for spec in SPECS for env in validate_file(spec).environments]


@pytest.mark.parametrize(
    ("spec", "env"), ENVIRONMENTS, ids=[f"{spec_id(s)}-{e.name}" for s, e in ENVIRONMENTS]
)
def test_policy_is_least_privilege(spec, env):
    model = validate_file(spec)
    policy = json.loads(json.dumps(deployer_policy(model.name, env)))
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"]), statement["Sid"]
        if "*" in statement["Resource"]:
            assert statement["Sid"].endswith("AnyResource"), "only calls without resource-level permissions"
            continue
        owned = [
            env.names["prefix"],
            "hostedzone/*",
            "certificate/*",
            "security-group",
            "AutoScaling_ECSService",
            "deploymentconfig:CodeDeployDefault.",
        ]
        if env.state:
            owned += [env.state.bucket, env.state.lock_table]
        for resource in statement["Resource"]:
            assert any(part in resource for part in owned), resource
    if env.dns:
        record_names = next(s for s in policy["Statement"] if s["Sid"] == "ServiceRecordsInTheZoneOnly")
        names = record_names["Condition"]["ForAllValues:StringLike"][
            "route53:ChangeResourceRecordSetsNormalizedRecordNames"
        ]
        assert env.dns.fqdn in names
    else:
        assert not [s for s in sids if "Zone" in s or "Certificate" in s]
    assert bool(env.state) == any("TerraformState" in sid for sid in sids)


def test_account_pinned_spec_names_its_account():
    model = validate_file(SPECS[1])  # full.yaml: staging pins 210987654321
    staging = model.environments[0]
    text = json.dumps(deployer_policy(model.name, staging))
    assert ":210987654321:" in text and "ACCOUNT_ID" not in text
    trust = deployer_trust_policy(staging, model.deploy_branch)
    assert trust["Statement"][0]["Condition"]["StringLike"]["gitlab.com:sub"].endswith("ref:main")
