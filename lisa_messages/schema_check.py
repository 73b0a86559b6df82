"""Check an MQTT message against the generated AsyncAPI document (for tests and tools).

:func:`validate_message` finds the channel of a concrete topic (booth id filled in) and validates
the payload against that channel's message schema as written in ``docs/asyncapi.yaml`` — the
document comes from :func:`lisa_messages.asyncapi.asyncapi_yaml` (round-tripped through YAML), not
from the pydantic models, so the published contract itself is what gets tested. JSON Schema Draft
2020-12; ``#/components/schemas/...`` references resolve inside the document. A ``oneOf`` with a
``discriminator`` (the booth event: one schema per ``type``) is reported by its branch for the
payload's ``type``. Needs the dev dependencies ``jsonschema`` and ``pyyaml``.

    validate_message("lisa/v1/booth/sim-1/availability", b"online")      # ok
    validate_message("lisa/v1/booth/sim-1/cmd", b'{"cmd": "ping"}')     # ValueError: ... id ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import (  # type: ignore[import-untyped]
    ValidationError,
    best_match,
    relevance,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from lisa_messages.asyncapi import asyncapi_yaml

DOC_URI = "urn:lisa:asyncapi"
MAX_ERRORS = 5


class MessageInvalid(ValueError):
    """A payload that does not match the contract; ``paths`` are the failing JSON paths."""

    def __init__(self, topic: str, message: str, paths: list[str], details: list[str]) -> None:
        self.topic = topic
        self.message_name = message
        self.paths = paths
        self.details = details
        super().__init__(f"{topic}: invalid {message} payload: " + "; ".join(details))


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    channel: str  # channel id in the document
    message: str  # message id in components/messages
    name: str  # the message's name (model name)
    content_type: str
    pattern: re.Pattern[str]
    validator: Any  # Draft202012Validator


@lru_cache(maxsize=1)
def asyncapi() -> dict[str, Any]:
    """The generated AsyncAPI document, as read back from its YAML text."""
    import yaml  # type: ignore[import-untyped]

    doc: dict[str, Any] = yaml.safe_load(asyncapi_yaml())
    return doc


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _address_pattern(doc: dict[str, Any], channel: dict[str, Any]) -> re.Pattern[str]:
    address: str = channel["address"]
    pieces = re.split(r"\{(\w+)\}", address)
    regex = ""
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            regex += re.escape(piece)
            continue
        param = channel.get("parameters", {}).get(piece, {})
        if "$ref" in param:
            param = _resolve(doc, param["$ref"])
        value_pattern = str(param.get("x-pattern", "[^/+#]+")).removeprefix("^").removesuffix("$")
        regex += f"(?:{value_pattern})"
    return re.compile(regex)


@lru_cache(maxsize=1)
def channel_messages() -> tuple[ChannelMessage, ...]:
    """One entry per channel of the document, with a validator for its message payload."""
    doc = asyncapi()
    registry: Registry[Any] = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    out = []
    for channel_id, channel in doc["channels"].items():
        ((message_id, ref),) = channel["messages"].items()
        message = _resolve(doc, ref["$ref"]) if "$ref" in ref else ref
        payload = message["payload"]
        schema = {"$ref": DOC_URI + payload["$ref"]} if "$ref" in payload else payload
        out.append(
            ChannelMessage(
                channel=channel_id,
                message=message_id,
                name=message.get("name", message_id),
                content_type=message.get("contentType", doc.get("defaultContentType", "")),
                pattern=_address_pattern(doc, channel),
                validator=Draft202012Validator(schema, registry=registry),
            )
        )
    return tuple(out)


def channel_for_topic(topic: str) -> ChannelMessage:
    """The channel whose address matches a concrete topic; ValueError when there is none."""
    for entry in channel_messages():
        if entry.pattern.fullmatch(topic):
            return entry
    raise ValueError(f"{topic}: no channel of the AsyncAPI document matches this topic")


def _path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _describe(error: ValidationError) -> tuple[str, str]:
    """The failing path (down to the missing or unknown field) and a one-line reason."""
    parts = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [name for name in error.validator_value if name not in instance]
        if missing:
            return _path([*parts, missing[0]]), "required field is missing"
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(name for name in instance if name not in known)
        if extra:
            return _path([*parts, extra[0]]), "unknown field (additional properties not allowed)"
    if error.validator == "oneOf" and isinstance(error.schema.get("x-rule"), str):
        return _path(parts), error.schema["x-rule"]  # a rule of a model's validator
    if error.context:  # anyOf / oneOf: say why the most plausible alternative failed
        specific = [e for e in error.context if e.validator != "type"]
        if specific:
            return _path(parts), best_match(specific).message
        types = " or ".join(str(e.validator_value) for e in error.context)
        return _path(parts), f"{instance!r} is not of type {types}"
    return _path(parts), error.message


def _explain(error: ValidationError) -> Iterator[tuple[str, str]]:
    """:func:`_describe`, except for a ``oneOf`` with a discriminator (one schema per value of a
    property, e.g. an event's ``type``): the errors of the branch for the payload's value; for
    an unknown or missing value that, plus what every branch finds wrong."""
    prop = error.schema.get("discriminator") if error.validator == "oneOf" else None
    if not isinstance(prop, str):
        yield _describe(error)
        return
    parts = list(error.absolute_path)
    instance = error.instance
    if not isinstance(instance, dict):
        yield _path(parts), f"{instance!r} is not of type 'object'"
        return
    values = []
    for branch in error.validator_value:
        target = _resolve(asyncapi(), branch["$ref"]) if "$ref" in branch else branch
        values.append(target.get("properties", {}).get(prop, {}).get("const"))
    by_branch = [
        [e for e in error.context if e.relative_schema_path[0] == index]
        for index in range(len(values))
    ]
    value = instance.get(prop)
    if isinstance(value, str) and value in values:
        for sub in by_branch[values.index(value)]:
            yield from _explain(sub)
        return
    where = _path([*parts, prop])
    if prop not in instance:
        yield where, "required field is missing"
    else:
        yield where, f"{value!r} is not one of {[v for v in values if v is not None]!r}"
    found = [{d for e in errors for d in _explain(e)} for errors in by_branch]
    common = set.intersection(*found) if found else set()
    yield from sorted(d for d in common if d[0] != where)


def validate_message(topic: str, payload: bytes) -> None:
    """Validate one MQTT message against the AsyncAPI document; ValueError naming the topic and
    the failing path(s) when it does not match (:class:`MessageInvalid` for schema errors)."""
    entry = channel_for_topic(topic)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{topic}: payload is not UTF-8 ({exc})") from None
    instance: Any
    if entry.content_type == "application/json":
        try:
            instance = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{topic}: payload is not valid JSON ({exc})") from None
    else:
        instance = text  # e.g. availability: text/plain, exactly ``online`` / ``offline``
    errors = sorted(entry.validator.iter_errors(instance), key=relevance, reverse=True)
    if not errors:
        return
    described = sorted({d for e in errors for d in _explain(e)})
    paths = list(dict.fromkeys(path for path, _ in described))
    details = [f"{path}: {reason}" for path, reason in described[:MAX_ERRORS]]
    if len(described) > MAX_ERRORS:
        details.append(f"and {len(described) - MAX_ERRORS} more")
    raise MessageInvalid(topic, entry.name, paths, details)
