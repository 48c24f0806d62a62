"""Issue 29: the message catalogs are complete, current, within Discord's limits, and
nothing a person reads bypasses them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message

from core import i18n
from core.i18n import _, _n
from core.money import Money
from emulator.rest_commands import invalid_command_name
from tools import messages, string_scan

LANGUAGES = messages.TRANSLATED


@pytest.fixture(scope="module")
def template() -> Catalog:
    return messages.template()


def ids(catalog: Catalog) -> set[tuple[str | None, str]]:
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


def test_the_template_holds_every_message_in_the_code(template: Catalog) -> None:
    """A `_()` added without `make messages` would reach Hindi and Bengali readers in
    English: the shipped template must be what extraction finds now."""
    shipped = ids(messages.template_catalog())
    now = ids(template)
    assert sorted(now - shipped, key=str) == [], "new messages: run `make messages`"
    assert sorted(shipped - now, key=str) == [], "messages gone from the code: run `make messages`"
    assert len(now) > 400  # the whole bot, not a corner of it


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_translation_is_missing_or_broken(language: str) -> None:
    """Lists every message Hindi or Bengali lacks (or whose placeholders differ from the
    English, or whose compiled .mo is older than the .po)."""
    problems = [str(p) for p in messages.problems(language)]
    assert problems == [], f"{len(problems)} problem(s):\n" + "\n".join(problems[:60])


def test_the_check_finds_a_missing_translation_and_a_broken_placeholder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: a .po with one message untranslated and one whose
    placeholder was translated is reported twice."""
    source = messages.read_catalog(messages.po_path("hi"), "hi")
    broken = [m for m in source if m.id and isinstance(m.id, str) and "{" in m.id][:1]
    plain = [m for m in source if m.id and isinstance(m.id, str) and "{" not in m.id][:1]
    assert broken and plain
    broken[0].string = broken[0].string.replace("{", "{x")  # type: ignore[union-attr]
    plain[0].string = ""
    monkeypatch.setattr(messages, "LOCALES", tmp_path)
    target = tmp_path / "hi" / "LC_MESSAGES"
    target.mkdir(parents=True)
    messages._write(target / "orderbot.po", source)
    (target / "orderbot.mo").write_bytes(messages.compiled("hi"))
    monkeypatch.setattr(
        messages,
        "template_catalog",
        lambda: messages.read_catalog(messages.ROOT / "core" / "locales" / "orderbot.pot"),
    )
    found = [p.what for p in messages.problems("hi")]
    assert "not translated" in found
    assert any(w.startswith("placeholders") for w in found)


def test_no_user_facing_string_bypasses_the_catalog() -> None:
    found = [str(b) for b in string_scan.scan()]
    assert found == [], "\n".join(found)


def test_the_scan_catches_each_kind_of_bypass() -> None:
    planted = """
async def reply(interaction, order):
    await interaction.followup.send(f"Order {order.id} placed", ephemeral=True)
    await interaction.response.send_message(content="Nothing was ordered.")
    embed = discord.Embed(title="Your order")
    embed.add_field(name="Total", value=order.total.format())
    button = discord.ui.Button(label="Confirm")
    raise InvalidInput("That invite has expired.")
    Alert(kind, "Provider down", "key")
    await interaction.followup.send(_("Order {id} placed", id=order.id))
    embed.add_field(name="💰", value="—")
    raise LimitReached("You already have 3 open orders.")
    StatusChange(status, status_message="Delivered by staff", detail="stored for staff")
    StatusChange(status, status_message=N_("Delivered by staff"))
"""
    found = string_scan.scan_source(planted)
    assert sorted(b.line for b in found) == [3, 4, 5, 6, 7, 8, 9, 12, 13]


# --- Discord's limits, in every language ---------------------------------------------------

# What Discord refuses (its API reference): a modal's title 45, a button's label 80, a
# select option's label or a placeholder 100, an embed's title or field name 256, a field's
# value 1,024; a slash command's description, an option's or a choice's name 100.
# Matched against the `# Translators:` note above each message, first match wins.
COMMENT_LIMITS = (
    ("form's title", 45),
    ("title of a form", 45),
    ("form field's label", 45),
    ("button label", 80),
    ("select option", 100),
    ("placeholder", 100),
    ("example amount in a form field", 100),  # a text input's placeholder
    ("embed title", 256),
    ("field name", 256),
)
CONTEXT_LIMITS = {
    "command description": 100,
    "option description": 100,
    "choice name": 100,
}
FIELD_VALUE = 1024
FILLED = re.compile(r"\{[a-z_]+\}")


def limit_for(message: Message) -> int:
    if message.context in CONTEXT_LIMITS:
        return CONTEXT_LIMITS[message.context]
    notes = " ".join(message.auto_comments).lower()
    for words, limit in COMMENT_LIMITS:
        if words in notes:
            return limit
    return FIELD_VALUE


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_fits_discords_limits(language: str) -> None:
    catalog = messages.read_catalog(messages.po_path(language), language)
    shipped = {(m.context, m.id): m for m in messages.template_catalog() if m.id}
    too_long: list[str] = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        template = shipped.get((message.context, message.id))
        if template is None:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        english = message.id if isinstance(message.id, str) else message.id[0]
        limit = limit_for(template)
        for text in strings:
            if message.context in ("command name", "option name"):
                problem = invalid_command_name(text)
                if problem:
                    too_long.append(f"{text!r} ({english!r}): {problem}")
                continue
            # Measured as shown: each placeholder filled with an order id's 14 characters.
            shown = FILLED.sub("x" * 14, str(text))
            if len(shown) > limit:
                too_long.append(f"{len(shown)} > {limit}: {english[:50]!r} -> {text[:50]!r}")
    assert too_long == []


def test_the_limits_know_each_kind_of_message() -> None:
    """The limits test can fail: the notes of a form's title and a button's label are
    read as such (a note it didn't recognise would be judged against 1,024)."""
    shipped = {m.id: m for m in messages.template_catalog() if m.id and isinstance(m.id, str)}
    assert limit_for(shipped["Confirm"]) == 80
    titles = [m for m in shipped.values() if "form's title" in " ".join(m.auto_comments)]
    assert titles and all(limit_for(m) == 45 for m in titles)


def test_the_name_rule_refuses_what_discord_refuses() -> None:
    assert invalid_command_name("ऑर्डर") is None
    assert invalid_command_name("भाषा") is None
    assert invalid_command_name("my orders") is not None
    assert invalid_command_name("Orders") is not None
    assert invalid_command_name("x" * 33) is not None


# --- money, numbers, resolution -----------------------------------------------------------


def test_money_and_counts_follow_the_language() -> None:
    lakh = Money(10_000_000, "INR")
    with i18n.speaking("en"):
        assert lakh.format() == "₹100,000.00 INR"
        assert i18n.number(1234567) == "1,234,567"
    with i18n.speaking("hi"):
        assert lakh.format() == "₹1,00,000.00 INR"
        assert i18n.number(1234567) == "12,34,567"
    with i18n.speaking("bn"):
        assert Money(123_400, "BDT").format() == "১,২৩৪.০০৳ BDT"
        assert lakh.format() == "১,০০,০০০.০০₹ INR"
        assert i18n.number(1234567) == "১২,৩৪,৫৬৭"
        assert Money(-350, "USD").format().startswith("-৩.৫০")
        # Ids and what a person typed are never passed through number(): unchanged.
        title = _("Order {order_id}", order_id="ORD-12AB34CD56")
        assert "ORD-12AB34CD56" in title and "অর্ডার" in title


def test_plurals_and_placeholders_in_each_language() -> None:
    with i18n.speaking("bn"):
        text = _n("{count} order", "{count} orders", 12)
        assert "১২" in text and "12" not in text
    with i18n.speaking("hi"):
        assert "12" in _n("{count} order", "{count} orders", 12)


def test_a_broken_translation_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def gettext(self, message: str) -> str:
            return "{missing} टूटा"

    monkeypatch.setattr(i18n, "translations", lambda language: Broken())
    with i18n.speaking("hi"):
        assert _("Hello {name}", name="Asha") == "Hello Asha"


def test_which_language_a_member_reads() -> None:
    i18n.configure(default="en", staff="en")
    assert i18n.resolve(None, "hi") == "hi"
    assert i18n.resolve(None, "en-GB") == "en"
    assert i18n.resolve(None, "fr") == "en"  # a language the shop doesn't have
    assert i18n.resolve("bn", "hi") == "bn"  # the explicit choice wins
    i18n.configure(default="bn", staff="hi")
    try:
        assert i18n.resolve(None, "de") == "bn"

        @i18n.in_staff_language
        def staff_line() -> str:
            return i18n.current()

        with i18n.speaking("en"):
            assert staff_line() == "hi"
            assert i18n.current() == "en"
    finally:
        i18n.configure(default="en", staff="en")


def test_every_alert_builder_speaks_the_staff_language() -> None:
    """An alert raised while a Bengali buyer confirms is read by staff: each builder in
    core/alerts is wrapped in `in_staff_language`."""
    unwrapped = []
    for path in sorted((messages.ROOT / "core" / "alerts").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            if "Alert" not in ast.unparse(node.returns or ast.Constant("")):
                continue
            names = {ast.unparse(d) for d in node.decorator_list}
            if not names & {"in_staff_language", "i18n.in_staff_language"}:
                unwrapped.append(f"{path.name}:{node.name}")
    assert unwrapped == []
