"""Decide Allow or Deny for recorded IAM checks, the way AWS evaluates identity policies.

A small evaluator of the parts of AWS's policy language the generated policies use,
after the IAM user guide, "Policy evaluation logic": an explicit Deny wins; else an
Allow of a statement whose Action (or NotAction), Resource (or NotResource) and every
Condition match; else the implicit deny. With a permissions boundary, a request must
be allowed by both the identity policies and the boundary ("Permissions boundaries
for IAM entities"). Wildcards `*` and `?` match in actions (case-insensitively) and in
resources (case-sensitively, also across `:` and `/`). Condition operators: String*,
Arn*, Bool, Null, the ...IfExists forms and the ForAllValues:/ForAnyValue: set
operators ("IAM JSON policy elements: Condition operators", "Multivalued context
keys"). A statement using anything else makes the evaluator raise instead of guess.
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


def statement_matches(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, Sequence[str]]
) -> bool:
    if "Principal" in statement or "NotPrincipal" in statement:
        raise UnsupportedPolicy("a resource-based policy statement")
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


def _decide(
    policies: Sequence[Policy], action: str, resource: str, context: Mapping[str, Sequence[str]]
) -> Decision:
    allows: list[str] = []
    for policy in policies:
        for number, statement in enumerate(_as_list(policy["Statement"])):
            sid = statement.get("Sid", f"#{number}")
            if not statement_matches(statement, action, resource, context):
                continue
            if statement["Effect"] == "Deny":
                return Decision(False, f"explicitly denied by {sid}", (sid,))
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
) -> Decision:
    """Allow or deny one check against identity `policies` (and a permissions `boundary`)."""
    context = context or {}
    decision = _decide(policies, action, resource, context)
    if decision.allowed and boundary is not None:
        limit = _decide([boundary], action, resource, context)
        if not limit.allowed:
            return Decision(False, f"outside the permissions boundary ({limit.reason})")
    return decision


def matching_actions(policies: Sequence[Policy]) -> set[str]:
    """Every action the Allow statements of `policies` name (they name actions without wildcards)."""
    found = set()
    for policy in policies:
        for statement in _as_list(policy["Statement"]):
            if statement["Effect"] == "Allow":
                found.update(_as_list(statement.get("Action", [])))
    return found


__all__ = ["Decision", "UnsupportedPolicy", "evaluate", "matching_actions", "statement_matches"]
