"""A JSON-schema validator for the small subset our tool schemas use.

Models send wrong types, missing fields and invented parameters; each of those must come
back as a precise message the model can act on, not a crash deep in a tool. Supported:
type (object, string, integer, number, boolean, array, null), properties, required,
additionalProperties false, items, enum, minimum, maximum, minLength, maxLength,
minItems, maxItems. Unknown keywords are ignored, as JSON Schema does.
"""

from __future__ import annotations

import json
from typing import Any

MAX_ERRORS = 5

_TYPES: dict[str, str] = {
    "object": "an object",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "array": "an array",
    "null": "null",
}


def validate(value: Any, schema: dict[str, Any], where: str = "input") -> list[str]:
    """Every way `value` breaks `schema`, as short messages naming the offending field."""
    errors: list[str] = []
    _check(value, schema, where, errors)
    return errors[:MAX_ERRORS]


def _check(value: Any, schema: dict[str, Any], where: str, errors: list[str]) -> None:
    expected = schema.get("type")
    if expected is not None and not _is_type(value, expected):
        errors.append(f"{where} must be {_TYPES.get(expected, expected)}, got {_describe(value)}")
        return
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(json.dumps(choice) for choice in schema["enum"])
        errors.append(f"{where} must be one of {choices}, got {_describe(value)}")
    if isinstance(value, dict):
        _check_object(value, schema, where, errors)
    elif isinstance(value, list):
        _check_array(value, schema, where, errors)
    elif isinstance(value, str):
        _check_bounds(len(value), schema, "minLength", "maxLength", f"{where} length", errors)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_bounds(value, schema, "minimum", "maximum", where, errors)


def _check_object(value: dict[str, Any], schema: dict[str, Any], where: str, errors: list[str]) -> None:
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            errors.append(f"{where} is missing required field {name!r}")
    for name, item in value.items():
        if name in properties:
            _check(item, properties[name], _field(where, name), errors)
        elif schema.get("additionalProperties") is False:
            allowed = ", ".join(properties) or "none"
            errors.append(f"{where} has unknown field {name!r} (allowed: {allowed})")


def _check_array(value: list[Any], schema: dict[str, Any], where: str, errors: list[str]) -> None:
    _check_bounds(len(value), schema, "minItems", "maxItems", f"{where} item count", errors)
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            _check(item, items, f"{where}[{index}]", errors)


def _check_bounds(
    number: float, schema: dict[str, Any], low_key: str, high_key: str, where: str, errors: list[str]
) -> None:
    low, high = schema.get(low_key), schema.get(high_key)
    if low is not None and number < low:
        errors.append(f"{where} must be at least {low}, got {number}")
    if high is not None and number > high:
        errors.append(f"{where} must be at most {high}, got {number}")


def _is_type(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "null":
        return value is None
    return True


def _field(where: str, name: str) -> str:
    return name if where == "input" else f"{where}.{name}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "an array"
    text = json.dumps(value)
    kind = "string" if isinstance(value, str) else "integer" if isinstance(value, int) else "number"
    return f"{kind} {text[:60]}{'…' if len(text) > 60 else ''}"
