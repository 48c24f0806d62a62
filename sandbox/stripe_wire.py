"""Stripe's wire format, as the sandbox (sandbox/stripe.py) reads and answers it:
parameters in bracket notation (`line_items[0][price_data][currency]=usd`, `expand[]=x`)
and refusals in Stripe's error shape."""

from __future__ import annotations

import urllib.parse
from typing import Any

from aiohttp import web

from sandbox.util import json_response


class StripeError(Exception):
    """A refusal in Stripe's shape, raised where it is found and answered by the handler:
    `{"error": {"type", "message", "code"?, "param"?}}`, the fields Stripe has no value
    for left out, as Stripe leaves them out."""

    def __init__(
        self,
        message: str,
        param: str | None = None,
        *,
        code: str | None = None,
        status: int = 400,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {"type": kind, "message": message}
        if code is not None:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param is not None:
            self.error["param"] = param
        self.status = status

    def response(self) -> web.Response:
        return json_response({"error": self.error}, self.status)


def parse_form(raw: str) -> dict[str, Any]:
    """`a[b][0][c]=v&e[]=x` -> ``{"a": {"b": [{"c": "v"}]}, "e": ["x"]}``: Stripe's
    bracket notation as nested dicts, numbered (or `[]`) members as lists."""
    root: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        name, bracket, rest = key.partition("[")
        path = [name]
        if bracket:
            path += rest[:-1].split("][") if rest.endswith("]") else ["["]
        # Only the last step may be empty (`expand[]`), and no step may hold a bracket.
        if not name or "" in path[:-1] or any("[" in p or "]" in p for p in path):
            raise StripeError(f"Invalid parameter name: {key}")
        node = root
        for step in path[:-1]:
            node = node.setdefault(step, {})
            if not isinstance(node, dict):
                raise StripeError(f"Invalid parameter name: {key} (also sent as a value)")
        last = path[-1] or str(len(node))
        if isinstance(node.get(last), dict):
            raise StripeError(f"Invalid parameter name: {key} (also sent as an object)")
        node[last] = value
    return {name: _arrays(name, value) for name, value in root.items()}


def _arrays(name: str, node: Any) -> Any:
    """Objects whose keys are all numbers become lists, numbered from 0 without a gap.
    Metadata keys may be digits, so metadata stays an object."""
    if not isinstance(node, dict):
        return node
    members = {key: _arrays(key, value) for key, value in node.items()}
    if name == "metadata" or not members or not all(k.isascii() and k.isdigit() for k in members):
        return members
    by_index = {int(k): v for k, v in members.items()}
    if sorted(by_index) != list(range(len(members))):
        raise StripeError("Invalid array", name)
    return [by_index[i] for i in range(len(by_index))]
