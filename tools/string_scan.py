"""Finds user-facing text that bypasses the message catalog (core/i18n.py).

A string literal (or f-string) with letters in it, passed straight to something a
person reads, is English for every reader whatever language they chose. This walks the
syntax tree of the modules that talk to people and reports each one:

* the content or any text field of a message: `send`, `send_message`, `edit`,
  `edit_message`, `edit_original_response`, `followup.send`;
* embeds and components: `Embed(...)`, `add_field`, `set_footer`, `set_author`,
  `Button`, `TextInput`, `SelectOption`, `Select`, the `@ui.button` decorator, a
  modal's `title`;
* errors shown to the member (`UserFacingError` and its kind, `AmountError`);
* staff alerts: the text of an `Alert(...)`.

`python -m tools.string_scan` prints them; tests/bot/test_translations.py fails on any.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = (
    "cogs",
    "bot/services",
    "bot/presenters.py",
    "bot/staff_presenters.py",
    "bot/topup_presenters.py",
    "bot/payment_presenters.py",
    "bot/errors.py",
    "bot/tree.py",
    "bot/catalog.py",
    "core/alerts",
    "core/domain.py",
    # Text they write that reaches a person later: a buyer's limit, a provider's words
    # shown as the order's status or as why it failed.
    "storage",
    "bot/providers",
    "bot/payments",
)
# Callables whose arguments a person reads: which keyword arguments, and which
# positional ones (None: all of them).
TEXT_KEYWORDS = frozenset(
    {"content", "title", "description", "label", "placeholder", "name", "value", "text"}
)
SINKS: dict[str, tuple[int, ...] | None] = {
    "send": None,
    "send_message": None,
    "edit": None,
    "edit_message": None,
    "edit_original_response": None,
    "Embed": None,
    "add_field": None,
    "insert_field_at": None,
    "set_field_at": None,
    "set_footer": None,
    "set_author": None,
    "Button": None,
    "button": None,
    "TextInput": None,
    "SelectOption": None,
    "Select": None,
    "select": None,
    "Modal": None,
    "Alert": (1,),
}
STORED_FOR_PEOPLE = frozenset({"status_message", "user_message"})
ERRORS = frozenset(
    {
        "UserFacingError",
        "InvalidInput",
        "NotAllowed",
        "NotEnoughCredit",
        "ShopPaused",
        "OrderNotFoundError",
        "ProviderBusy",
        "ProviderClosed",
        "AmountError",
        "CheckFailure",
        "LimitReached",
        "TopupRefused",
    }
)
LETTERS = re.compile(r"[A-Za-z\u0900-\u09ff]{2,}")


@dataclass(frozen=True)
class Bypass:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text[:70]!r} bypasses the catalog"


def _literal_text(node: ast.AST) -> str | None:
    """The letters a person would read if `node` is a literal (or built of literals)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if LETTERS.search(node.value) else None
    if isinstance(node, ast.JoinedStr):
        parts = "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
        return parts if LETTERS.search(parts) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return _literal_text(node.left) or _literal_text(node.right)
    if isinstance(node, ast.IfExp):
        return _literal_text(node.body) or _literal_text(node.orelse)
    return None


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def scan_source(source: str, path: str = "<source>") -> list[Bypass]:
    found: list[Bypass] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        if name in SINKS:
            positions = SINKS[name]
            args = [a for i, a in enumerate(node.args) if positions is None or i in positions]
            args += [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        elif name in ERRORS:
            args = list(node.args)
        else:
            args = []
        # Stored or raised for a person to read later, whatever the call.
        args += [k.value for k in node.keywords if k.arg in STORED_FOR_PEOPLE]
        if not args:
            continue
        for arg in args:
            text = _literal_text(arg)
            if text is not None:
                found.append(Bypass(path, arg.lineno, text))
    return found


def scanned_files() -> Iterator[Path]:
    for entry in SCANNED:
        target = ROOT / entry
        yield from sorted(target.rglob("*.py")) if target.is_dir() else [target]


def scan() -> list[Bypass]:
    found: list[Bypass] = []
    for path in scanned_files():
        found.extend(scan_source(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))))
    return found


def main() -> int:
    found = scan()
    for bypass in found:
        print(bypass)
    print(f"{len(found)} string(s) bypass the catalog")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
