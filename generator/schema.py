"""The JSON Schema of service.yaml: loading it, checking a document, applying its defaults."""

from __future__ import annotations

import copy
import difflib
import json
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from .errors import Problem, describe
from .loader import FieldPath, LoadedSpec, dotted
from .resources import schema_file

_JSON_TYPES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer"}
_COUNTED = {
    "minLength": ("character", "characters"),
    "minItems": ("item", "items"),
    "minProperties": ("entry", "entries"),
}
_BOUNDS = {
    "minimum": "a number >= {}",
    "maximum": "a number <= {}",
    "exclusiveMinimum": "a number > {}",
    "exclusiveMaximum": "a number < {}",
    "maxLength": "at most {} characters",
    "maxProperties": "at most {} entries",
    "pattern": "a string matching {}",
}
# Size limits speak for themselves; x-expected describes a field's shape instead.
_SIZE_KEYWORDS = {
    "minLength",
    "maxLength",
    "minItems",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
}
_JSON_TYPES |= {"number": "a number", "boolean": "true or false", "null": "null"}


@cache
def schema_text() -> str:
    """The schema exactly as shipped."""
    return schema_file().read_text(encoding="utf-8")


@cache
def service_schema() -> dict[str, Any]:
    """The parsed schema."""
    return json.loads(schema_text())


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = service_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_problems(spec: LoadedSpec) -> list[Problem]:
    """Every place where the document breaks the schema, as located problems."""
    problems: list[Problem] = []
    for error in _validator().iter_errors(spec.data):
        problems.extend(_translate(error, spec))
    return problems


def _translate(error: ValidationError, spec: LoadedSpec) -> list[Problem]:
    """One jsonschema error -> problems in the `expected ..., found ...` form."""
    path: FieldPath = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        extras = [key for key in error.instance if key not in known]
        return [_unknown_key(spec, path, key, known) for key in extras]
    if kind == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [
            _at(spec, path, (*path, name), "a value (the field is required)", "nothing") for name in missing
        ]
    if kind == "propertyNames" or _is_property_name_error(error):
        key = error.instance
        return [_at(spec, (*path, key), (*path, key), _expected(error), f"key {key!r}")]
    if kind == "not" and "required" in error.validator_value:  # dependentSchemas: exclusive fields
        trigger = list(error.absolute_schema_path)[-2]
        both = " and ".join([trigger, *error.validator_value["required"]])
        return [_at(spec, path, path, _expected(error), f"both {both}")]
    return [_at(spec, path, path, _expected(error), describe(error.instance))]


def _is_property_name_error(error: ValidationError) -> bool:
    """Errors raised inside a propertyNames schema carry the key as their instance."""
    return any(part == "propertyNames" for part in error.absolute_schema_path)


def _unknown_key(spec: LoadedSpec, path: FieldPath, key: str, known: list[str]) -> Problem:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"a known field (did you mean '{close[0]}'?)" if close else "one of the fields " + ", ".join(known)
    return _at(spec, (*path, key), (*path, key), hint, f"unknown field {key!r}")


def _at(spec: LoadedSpec, located: FieldPath, named: FieldPath, expected: str, found: str) -> Problem:
    line, column = spec.position(located) or (None, None)
    return Problem(line, column, dotted(named), expected, found)


def _expected(error: ValidationError) -> str:
    """What the failing keyword wanted, in words."""
    if "x-expected" in error.schema and error.validator not in _SIZE_KEYWORDS:
        return error.schema["x-expected"]
    value = error.validator_value
    if error.validator == "type":
        kinds = [_JSON_TYPES[kind] for kind in ([value] if isinstance(value, str) else value)]
        return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]
    if error.validator in ("enum", "const"):
        choices = value if error.validator == "enum" else [value]
        return ("one of " if len(choices) > 1 else "") + ", ".join(json.dumps(choice) for choice in choices)
    if error.validator in _COUNTED:
        noun, plural = _COUNTED[error.validator]
        return f"at least {value} {noun if value == 1 else plural}"
    if error.validator in _BOUNDS:
        return _BOUNDS[error.validator].format(value)
    return error.message


def apply_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a valid top-level document with every schema default filled in.

    Only named properties are walked: the overrides under `environments` stay sparse,
    so that merging them over the defaulted top level changes only what they set.
    """
    return _fill(service_schema(), copy.deepcopy(data))


def _fill(schema: dict[str, Any], value: Any) -> Any:
    schema = _resolve(schema)
    if not isinstance(value, dict):
        return value
    for name, subschema in schema.get("properties", {}).items():
        resolved = _resolve(subschema)
        if name not in value:
            if "default" in subschema or "default" in resolved:
                value[name] = copy.deepcopy(subschema.get("default", resolved.get("default")))
            elif resolved.get("type") == "object":  # a block that is always there: fill its defaults
                value[name] = {}
            else:
                continue
        value[name] = _fill(resolved, value[name])
    return value


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref`, keeping keywords written beside it."""
    while "$ref" in schema:
        target: Any = service_schema()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema
