"""A buyer's contact details, as people type them, checked by maintained libraries.

Phone numbers go through `phonenumbers` (Google's libphonenumber): "98765 43210" with the
shop's DEFAULT_PHONE_REGION, "+91 98765-43210", "0091 9876543210" all become the E.164
`+919876543210` the checkout API wants. Email addresses go through `email-validator`
(syntax only: a DNS lookup would make the form slow and fail offline). Nothing here does
I/O.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.errors import InvalidInput
from core.i18n import _


class ContactProblem(InvalidInput):
    """One field of the form is wrong; `field` names it, the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_phone(text: str, region: str) -> str:
    raw = text.strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        shown = (
            phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            if example
            else "+91 98765 43210"
        )
        raise ContactProblem(
            "phone",
            _(
                "That phone number doesn't look right. Type it as you would dial it, e.g. "
                "`{example}`; a number from outside {region} needs its country code.",
                example=shown,
                region=region,
            ),
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(text: str) -> str:
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ContactProblem(
            "email",
            _(
                "That email address doesn't look right: it should look like "
                "`you@example.com` (or leave it empty)."
            ),
        ) from None


def parse_contact(phone: str, name: str, email: str, *, region: str = "IN") -> dict[str, str]:
    """The form's fields, checked; raises ContactProblem naming the first wrong field."""
    contact = {"phone_number": parse_phone(phone, region)}
    if name.strip():
        contact["name"] = " ".join(name.split())[:80]
    if email.strip():
        contact["email"] = parse_email(email)
    return contact


def mask_phone_keep_format(e164: str) -> str:
    """`+919876543210` -> `+91 ••••• ••210`: the number as it is written, its last three
    digits shown: enough for the buyer to recognise it. (Staff see a fixed-length mask:
    bot.staff_presenters.mask_phone_fixed_length.)"""
    try:
        number = phonenumbers.parse(e164, None)
        shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        code = f"+{number.country_code}"
    except phonenumbers.NumberParseException:
        return "•" * max(len(e164) - 3, 0) + e164[-3:]
    rest = shown.removeprefix(code)
    digits = sum(c.isdigit() for c in rest)
    out, seen = [], 0
    for char in rest:
        if char.isdigit():
            seen += 1
            out.append(char if seen > digits - 3 else "•")
        else:
            out.append(char)
    return code + "".join(out)


def mask_email_keep_domain(address: str) -> str:
    """`asha@example.com` -> `a•••@example.com`: the domain is shown (the buyer's own view)."""
    local, _at, domain = address.partition("@")
    return f"{local[:1]}{'•' * min(max(len(local) - 1, 1), 6)}@{domain}"
