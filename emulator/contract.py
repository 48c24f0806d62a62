"""Validate the bot's REST request bodies against Discord's own OpenAPI 3.1 spec.

The spec's paths are relative to ``/api/v10``. Validators are built lazily, once per
(method, path template), with ``$ref``s resolved inside the spec through a ``referencing``
registry, so startup only pays for reading the JSON.

Discord accepts integer snowflakes where its spec says string (discord.py sends
``recipient_id`` and attachment ids as ints); the validator accepts a non-negative int
wherever the schema has ``format: snowflake``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

log = logging.getLogger(__name__)

SPEC_ENV = "DISCORD_OPENAPI_SPEC"
SPEC_URI = "urn:discord:openapi"
_METHODS = ("get", "put", "post", "patch", "delete")


# A copy of Discord's spec (MIT, its LICENSE beside it) ships with the package, so an
# installed `orderbot demo` checks its answers too; tests/emulator/test_contract.py keeps
# it identical to the project's reference copy in ../shared.
PACKAGED_SPEC = Path(__file__).resolve().parent / "spec" / "openapi.json"


def default_spec_path() -> Path:
    env = os.environ.get(SPEC_ENV)
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[1].parent / "shared/discord/openapi.json"
    return beside if beside.is_file() else PACKAGED_SPEC


@dataclasses.dataclass(frozen=True)
class ContractViolation:
    method: str
    path: str
    template: str | None
    message: str
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.template}): {self.message}"


def _snowflake_type(
    validator: Any, types: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if (
        schema.get("format") == "snowflake"
        and isinstance(instance, int)
        and not isinstance(instance, bool)
        and instance >= 0
    ):
        return
    yield from _BASE_TYPE(validator, types, instance, schema)


_BASE_TYPE = jsonschema.Draft202012Validator.VALIDATORS["type"]
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"type": _snowflake_type}
)


def _rewrite_refs(node: Any) -> Any:
    """Point local ``#/...`` refs of a schema lifted out of the spec back into the spec."""
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            out["$ref"] = SPEC_URI + ref
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _discord_errors(error: ValidationError) -> dict[str, Any]:
    """Discord's nested ``errors`` object for one validation error."""
    leaf: dict[str, Any] = {"_errors": [{"code": "CONTRACT_VIOLATION", "message": error.message}]}
    for part in reversed(list(error.absolute_path)):
        leaf = {str(part): leaf}
    return leaf


@dataclasses.dataclass
class _LoadedSpec:
    """One parse of the spec and everything built from it, shared by every checker in the
    process (the file is 1.2 MB: parsing it per emulator cost each test about a second)."""

    spec: dict[str, Any]
    registry: Registry[Any]
    templates: list[tuple[re.Pattern[str], str, int]]
    validators: dict[tuple[str, str, str], Any] = dataclasses.field(default_factory=dict)


# Keyed by the resolved path and the file's mtime and size, so an edited spec is read again.
_LOADED: dict[tuple[str, int, int], _LoadedSpec] = {}


def _load_spec(path: Path) -> _LoadedSpec:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    loaded = _LOADED.get(key)
    if loaded is not None:
        return loaded
    with path.open("rb") as fh:
        spec = json.load(fh)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))
    templates = []
    for template in spec.get("paths", {}):
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        literal_segments = sum(1 for seg in template.split("/") if not seg.startswith("{"))
        templates.append((re.compile(f"^{pattern}$"), template, literal_segments))
    # Prefer the most literal template: /users/@me over /users/{user_id}.
    templates.sort(key=lambda t: -t[2])
    loaded = _LOADED[key] = _LoadedSpec(spec, registry, templates)
    return loaded


class ContractChecker:
    """Matches a request to the spec's operation and validates its JSON body."""

    def __init__(self, spec_path: str | Path | None = None) -> None:
        self.spec_path = Path(spec_path) if spec_path is not None else default_spec_path()
        self.enabled = False
        self._spec: dict[str, Any] = {}
        self._registry: Registry[Any] = Registry()
        self._templates: list[tuple[re.Pattern[str], str, int]] = []
        self._validators: dict[tuple[str, str, str], Any] = {}

    def load(self) -> None:
        if not self.spec_path.is_file():
            log.warning(
                "Discord OpenAPI spec not found at %s: request bodies are NOT contract-checked",
                self.spec_path,
            )
            self.enabled = False
            return
        loaded = _load_spec(self.spec_path)
        self._spec = loaded.spec
        self._registry = loaded.registry
        self._templates = loaded.templates
        # Validators are pure functions of the spec: built once per process, shared.
        self._validators = loaded.validators
        self.enabled = True
        log.info(
            "Contract check on: %d path templates from %s", len(self._templates), self.spec_path
        )

    def match(self, path: str) -> str | None:
        """The spec's path template for a path relative to /api/v10."""
        for pattern, template, _ in self._templates:
            if pattern.match(path):
                return template
        return None

    def operation(self, method: str, path: str) -> tuple[str | None, dict[str, Any] | None]:
        template = self.match(path)
        if template is None:
            return None, None
        op = self._spec["paths"][template].get(method.lower())
        return template, op if isinstance(op, dict) else None

    def _validator(self, method: str, template: str, media: str) -> Any:
        key = (method, template, media)
        if key in self._validators:
            return self._validators[key]
        op = self._spec["paths"][template].get(method.lower(), {})
        content = op.get("requestBody", {}).get("content", {})
        schema = (content.get(media) or content.get("application/json") or {}).get("schema")
        validator = None
        if schema is not None:
            validator = _Validator(_rewrite_refs(copy.deepcopy(schema)), registry=self._registry)
        self._validators[key] = validator
        return validator

    def _response_validator(self, method: str, template: str, status: int) -> Any:
        key = (method, template, f"response {status}")
        if key in self._validators:
            return self._validators[key]
        answer = self._response(method, template, status) or {}
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        validator = None
        if schema is not None:
            validator = _Validator(_rewrite_refs(copy.deepcopy(schema)), registry=self._registry)
        self._validators[key] = validator
        return validator

    def _response(self, method: str, template: str, status: int) -> dict[str, Any] | None:
        """The spec's answer for `status` (its own, else its class `4XX`), with a
        `$ref` to components/responses followed; None when the spec lists neither."""
        op = self._spec["paths"][template].get(method.lower(), {})
        responses = op.get("responses", {})
        answer = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if isinstance(answer, dict) and "$ref" in answer:
            name = str(answer["$ref"]).rsplit("/", 1)[-1]
            answer = self._spec.get("components", {}).get("responses", {}).get(name)
        return answer if isinstance(answer, dict) else None

    def check_response(
        self, method: str, path: str, status: int, body: Any
    ) -> ContractViolation | None:
        """Validate what the emulator answers (already JSON-decoded) against the spec's
        response schema for that status: a client other than discord.py reads exactly
        what the spec promises (issue 30)."""
        if not self.enabled or method.lower() not in _METHODS:
            return None
        template, op = self.operation(method, path)
        if template is None or op is None:
            return None
        if status < 500 and self._response(method, template, status) is None:
            return ContractViolation(
                method.upper(),
                path,
                template,
                f"response {status}: not a status the spec lists",
                body,
            )
        validator = self._response_validator(method.upper(), template, status)
        if validator is None:
            return None
        if status >= 400 and isinstance(body, dict):
            # A form error's details are left out: the spec types `_errors[].code` as an
            # integer, while Discord sends words ("BASE_TYPE_MAX_LENGTH"), as we do.
            body = {k: v for k, v in body.items() if k != "errors"}
        errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
        if not errors:
            return None
        # Every problem at once (up to 8): filling a response is done field by field.
        found = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '<body>'}: {e.message[:200]}"
            for e in errors[:8]
        )
        more = f" (+{len(errors) - 8} more)" if len(errors) > 8 else ""
        return ContractViolation(
            method.upper(), path, template, f"response {status} {found}{more}", body
        )

    def check(
        self, method: str, path: str, body: Any
    ) -> tuple[ContractViolation | None, dict[str, Any] | None]:
        """Validate ``body`` (already JSON-decoded; for multipart, the ``payload_json``).

        Returns the violation (if any) and Discord's ``errors`` object for the 400 answer.
        """
        if not self.enabled or method.lower() not in _METHODS:
            return None, None
        template, op = self.operation(method, path)
        if template is None or op is None:
            return None, None
        validator = self._validator(method.upper(), template, "application/json")
        if validator is None:
            return None, None
        error = best_match(validator.iter_errors(body))
        if error is None:
            return None, None
        where = "/".join(str(p) for p in error.absolute_path) or "<body>"
        message = f"{where}: {error.message}"
        violation = ContractViolation(method.upper(), path, template, message, body)
        return violation, _discord_errors(error)
