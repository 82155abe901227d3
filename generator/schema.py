"""The JSON Schema of service.yaml: loading it, checking a document, applying its defaults."""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Callable, Iterator
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


def ecma_regex(pattern: str) -> re.Pattern[str]:
    """A schema `pattern` compiled with the meaning JSON Schema gives it (ECMA-262).

    Two differences from Python's `re` let values through that editors reject and that
    break the files they reach: `$` also matches before a final newline in Python (so
    `^[a-z]+$` accepts "staging\\n"), and `\\w`, `\\d`, `\\s` match any Unicode letter,
    digit or space. Here `$` (outside a character class) becomes `\\Z`, the end of the
    string, and classes are ASCII, as in ECMA-262 without the `u` and `m` flags
    (JSON Schema 2020-12 Validation, section 6.3.3; ECMA-262, section 22.2 "RegExp
    Objects"). Patterns also match within a string, as in JSON Schema: the schema's
    own `^...$` anchor them.
    """
    return _compile(pattern)


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    translated, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            translated.append(char)
            escaped = False
        elif char == "\\":
            translated.append(char)
            escaped = True
        elif in_class:
            translated.append(char)
            in_class = char != "]"
        elif char == "[":
            translated.append(char)
            in_class = True
        else:
            translated.append(r"\Z" if char == "$" else char)
    return re.compile("".join(translated), re.ASCII)


def _pattern(
    validator: jsonschema.protocols.Validator, pattern: str, instance: object, _: dict[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(str(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_integer(_: object, instance: object) -> bool:
    """Integers are written as integers: YAML's 8080.0 is a float, and would render as one
    (`EXPOSE 8080.0`); JSON Schema's 'a float with no fraction is an integer' does not apply."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _exact(keyword: str) -> Callable[..., Iterator[ValidationError]]:
    """`enum` and `const` that tell 256.0 from 256 (and true from 1), as they tell 'a' from 'b'."""
    draft = jsonschema.Draft202012Validator.VALIDATORS[keyword]

    def check(
        validator: jsonschema.protocols.Validator, allowed: Any, instance: object, schema: dict[str, Any]
    ) -> Iterator[ValidationError]:
        choices = allowed if keyword == "enum" else [allowed]
        if isinstance(instance, float) and not any(isinstance(choice, float) for choice in choices):
            yield ValidationError(f"{instance!r} is not one of {choices!r}")
            return
        yield from draft(validator, allowed, instance, schema)

    return check


_ServiceValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    validators={"pattern": _pattern, "enum": _exact("enum"), "const": _exact("const")},
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = service_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return _ServiceValidator(schema)


def schema_validator() -> jsonschema.protocols.Validator:
    """The published schema read the JSON Schema way (ECMA-262 patterns, integers without
    a fraction point): what editors check, and what bluegreen checks before its own rules."""
    return _validator()


# Fields whose value may span lines: the README's prose. Everywhere else a value ends up
# on one line of HCL, YAML, shell, a Dockerfile or a path.
_MULTILINE = {("description",)}


def schema_problems(spec: LoadedSpec) -> list[Problem]:
    """Every place where the document breaks the schema, as located problems."""
    problems: list[Problem] = []
    for error in _validator().iter_errors(spec.data):
        problems.extend(_translate(error, spec))
    reported = {problem.path for problem in problems}  # one line per field: the pattern's says more
    problems.extend(p for p in _unprintable(spec, spec.data, ()) if p.path not in reported)
    return problems


def _unprintable(spec: LoadedSpec, value: object, path: FieldPath) -> Iterator[Problem]:
    """Control characters, line breaks and invisible formatting (bidi overrides, zero-width
    and non-breaking spaces) in any key or string value: they change what a generated file
    means or hide what it says."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and (bad := _bad_character(key, multiline=False)):
                yield _at(spec, (*path, key), (*path, key), "a printable key", f"{bad} in key {key!r}")
            yield from _unprintable(spec, item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unprintable(spec, item, (*path, index))
    elif isinstance(value, str) and (bad := _bad_character(value, multiline=path in _MULTILINE)):
        expected = "printable text" + (" (line breaks allowed)" if path in _MULTILINE else " on one line")
        yield _at(spec, path, path, expected, f"{bad} in {describe(value)}")


def _bad_character(text: str, *, multiline: bool) -> str | None:
    for char in text:
        if not (char.isprintable() or (multiline and char == "\n")):
            return f"the character U+{ord(char):04X}"
    return None


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
