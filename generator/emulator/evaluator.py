"""Decide Allow or Deny for recorded IAM checks, the way AWS evaluates identity and resource policies.

A small evaluator of the parts of AWS's policy language the generated policies use,
after the IAM user guide, "Policy evaluation logic": an explicit Deny wins; else an
Allow of a statement whose Action (or NotAction), Resource (or NotResource) and every
Condition match; else the implicit deny. With a permissions boundary, a request must
be allowed by both the identity policies and the boundary ("Permissions boundaries
for IAM entities"). With a resource-based policy (a bucket policy) the caller is a
Principal: its statements match by Principal ("*", the caller's account, or its role's
ARN), and AWS fills in aws:PrincipalArn and aws:PrincipalAccount. In the resource's
own account either policy may allow; from another account both must ("Cross-account
policy evaluation logic"); an explicit Deny in any wins. Wildcards `*` and `?` match
in actions (case-insensitively) and in resources (case-sensitively, also across `:`
and `/`). Condition operators: String*, Arn*, Bool, Null, the ...IfExists forms and
the ForAllValues:/ForAnyValue: set operators ("IAM JSON policy elements: Condition
operators", "Multivalued context keys"). A statement using anything else makes the
evaluator raise instead of guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Policy = Mapping[str, Any]


class UnsupportedPolicy(Exception):
    """The policy uses a construct this evaluator does not implement."""


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, ignore_case: bool) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(_wildcard(p, action, ignore_case=True) for p in patterns)


def _resource_matches(patterns: Iterable[str], resource: str) -> bool:
    if resource == "*":
        # A check on "*" (an action without resource-level permissions) matches only "*".
        return any(p == "*" for p in patterns)
    return any(_wildcard(p, resource, ignore_case=False) for p in patterns)


def _single(operator: str, wanted: str, value: str) -> bool:
    base = operator.removesuffix("IfExists")
    if base == "StringEquals":
        return wanted == value
    if base == "ArnEquals":
        return _wildcard(wanted, value, ignore_case=False)
    if base == "StringEqualsIgnoreCase":
        return wanted.lower() == value.lower()
    if base in {"StringLike", "ArnLike"}:
        return _wildcard(wanted, value, ignore_case=False)
    if base == "Bool":
        return wanted.lower() == value.lower()
    raise UnsupportedPolicy(f"condition operator {operator}")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotLike": "ArnLike",
    "ArnNotEquals": "ArnEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
}


def _condition_holds(
    operator: str, key: str, wanted: Sequence[str], context: Mapping[str, Sequence[str]]
) -> bool:
    lowered = {k.lower(): v for k, v in context.items()}
    values = lowered.get(key.lower())
    if operator == "Null":
        return (values is None) == (str(wanted[0]).lower() == "true")
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    plain = base.removesuffix("IfExists")
    negated = plain in _NEGATED
    if values is None:
        # A key missing from the request: ForAllValues holds (nothing to contradict it),
        # ForAnyValue does not, ...IfExists holds, a negated operator holds, others fail.
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated
    positive = _NEGATED.get(plain, plain)

    def one(value: str) -> bool:
        return any(_single(positive, str(w), value) for w in wanted)

    if qualifier == "ForAllValues":
        result = all(one(v) for v in values)
        return not result if negated else result
    if qualifier == "ForAnyValue":
        result = any(one(v) for v in values)
        return not result if negated else result
    if qualifier:
        raise UnsupportedPolicy(f"condition qualifier {qualifier}")
    # A single-valued operator on a multivalued key matches when any value does.
    result = any(one(v) for v in values)
    return not result if negated else result


def _conditions_hold(
    conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, Sequence[str]]
) -> bool:
    return all(
        _condition_holds(operator, key, [str(v) for v in _as_list(wanted)], context)
        for operator, pairs in conditions.items()
        for key, wanted in pairs.items()
    )


@dataclass(frozen=True)
class Principal:
    """Who signs the request: a session of an IAM role (its ARN is aws:PrincipalArn) and its account."""

    arn: str
    account: str


def _principal_matches(element: Any, principal: Principal) -> bool:
    """Whether a resource-based statement's Principal names the caller (IAM User Guide,
    "AWS JSON policy elements: Principal"): everyone, the caller's account (its id or its
    root ARN: any principal of the account, as far as its own policies allow), or its role."""
    if element == "*":
        return True
    if not isinstance(element, Mapping) or set(element) != {"AWS"}:
        raise UnsupportedPolicy(f"principal {element!r}")
    names = {"*", principal.account, f"arn:aws:iam::{principal.account}:root", principal.arn}
    return any(value in names for value in _as_list(element["AWS"]))


def statement_matches(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
    principal: Principal | None = None,
) -> bool:
    if "NotPrincipal" in statement:
        raise UnsupportedPolicy("NotPrincipal")
    if "Principal" in statement:
        if principal is None:
            raise UnsupportedPolicy("a resource-based policy statement, evaluated without a principal")
        if not _principal_matches(statement["Principal"], principal):
            return False
    if "Action" in statement:
        if not _action_matches(_as_list(statement["Action"]), action):
            return False
    elif not ("NotAction" in statement and not _action_matches(_as_list(statement["NotAction"]), action)):
        return False
    if "Resource" in statement:
        if not _resource_matches(_as_list(statement["Resource"]), resource):
            return False
    elif "NotResource" in statement:
        if resource != "*" and _resource_matches(_as_list(statement["NotResource"]), resource):
            return False
    else:
        return False
    return _conditions_hold(statement.get("Condition", {}), context)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed by Sid", "explicitly denied by Sid", "no statement allows it"
    sids: tuple[str, ...] = ()
    explicit: bool = False  # denied by a Deny statement (no other policy can allow it then)


def _decide(
    policies: Sequence[Policy],
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
    principal: Principal | None = None,
) -> Decision:
    allows: list[str] = []
    for policy in policies:
        for number, statement in enumerate(_as_list(policy["Statement"])):
            sid = statement.get("Sid", f"#{number}")
            if not statement_matches(statement, action, resource, context, principal):
                continue
            if statement["Effect"] == "Deny":
                return Decision(False, f"explicitly denied by {sid}", (sid,), explicit=True)
            allows.append(sid)
    if allows:
        return Decision(True, f"allowed by {', '.join(allows)}", tuple(allows))
    return Decision(False, "no statement allows it")


def evaluate(
    policies: Sequence[Policy],
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]] | None = None,
    *,
    boundary: Policy | None = None,
    resource_policy: Policy | None = None,
    principal: Principal | None = None,
    resource_account: str | None = None,
) -> Decision:
    """Allow or deny one check against identity `policies` (and a permissions `boundary`).

    With a `resource_policy` (of a resource in `resource_account`) the caller is
    `principal`: from another account both its identity policies and the resource
    policy must allow the request, in the same account either may.
    """
    context = dict(context or {})
    if principal is not None:
        context.setdefault("aws:PrincipalArn", [principal.arn])
        context.setdefault("aws:PrincipalAccount", [principal.account])
    decision = _decide(policies, action, resource, context)
    if boundary is not None:
        limit = _decide([boundary], action, resource, context)
        # A boundary also limits what a resource policy naming the role grants it.
        if not limit.allowed and (decision.allowed or resource_policy is not None):
            return Decision(False, f"outside the permissions boundary ({limit.reason})")
        if not limit.allowed:
            return decision
    if resource_policy is None:
        return decision
    if principal is None or resource_account is None:
        raise ValueError("a resource policy is evaluated for a principal and the resource's account")
    granted = _decide([resource_policy], action, resource, context, principal)
    return _together(decision, granted, cross_account=resource_account != principal.account)


def _together(identity: Decision, granted: Decision, *, cross_account: bool) -> Decision:
    """The identity policies' decision and the resource policy's, combined as AWS does."""
    if granted.explicit:
        return Decision(False, f"{granted.reason} of the resource policy", granted.sids, explicit=True)
    if identity.explicit or (identity.allowed and not cross_account):
        return identity
    if not cross_account:
        if granted.allowed:
            return Decision(True, f"{granted.reason} of the resource policy", granted.sids)
        return identity
    if not identity.allowed:
        return identity
    if not granted.allowed:
        reason = f"from another account, the resource policy must allow it too ({granted.reason})"
        return Decision(False, reason)
    return Decision(
        True,
        f"{identity.reason} and by {', '.join(granted.sids)} of the resource policy",
        identity.sids + granted.sids,
    )


def matching_actions(policies: Sequence[Policy]) -> set[str]:
    """Every action the Allow statements of `policies` name (they name actions without wildcards)."""
    found = set()
    for policy in policies:
        for statement in _as_list(policy["Statement"]):
            if statement["Effect"] == "Allow":
                found.update(_as_list(statement.get("Action", [])))
    return found


__all__ = ["Decision", "Principal", "UnsupportedPolicy", "evaluate", "matching_actions", "statement_matches"]
