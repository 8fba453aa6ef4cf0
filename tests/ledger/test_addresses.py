"""The plain-address fast path gives exactly email-validator's normalised result, or steps aside."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from candor.ledger.addresses import AddressError, normalize, normalize_email, plain_email

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_!#$%&'*+-/=?^`{|}~"
TRICKY = '.-@"\\ ()<>[]:;,\t\näöüßé\u0301\u200bＡ＠．'


def reference(value: str) -> str | None:
    """What normalize_email returned before the fast path: email-validator's verdict."""
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    local, _, domain = result.normalized.rpartition("@")
    return f"{local.lower()}@{domain.lower()}"


labels = st.text(alphabet="abcXYZ019-", min_size=1, max_size=12) | st.sampled_from(
    ["xn--bcher-kva", "ab--cd", "a" * 63, "a" * 64, "test", "local", "localhost", "onion"]
)
tlds = st.sampled_from(
    ["org", "COM", "de", "c0m", "1", "x", "c-d", "test", "invalid", "arpa", "local", "a" * 63]
)
locals_ = st.text(alphabet=ATEXT + ".", min_size=0, max_size=70)
structured = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    locals_,
    st.lists(labels, min_size=0, max_size=4),
    tlds,
)
atoms = st.lists(st.text(alphabet=ATEXT, min_size=1, max_size=10), min_size=1, max_size=4)
host_labels = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
plausible = st.builds(
    lambda atoms, labels, tld: f"{'.'.join(atoms)}@{'.'.join([*labels, tld])}",
    atoms,
    st.lists(host_labels, min_size=1, max_size=3),
    st.from_regex(r"[a-zA-Z0-9-]{0,4}[a-zA-Z]", fullmatch=True),
)
mutated = st.builds(
    lambda text, extra, at: text[:at] + extra + text[at:],
    structured | plausible,
    st.text(alphabet=TRICKY, min_size=1, max_size=3),
    st.integers(min_value=0, max_value=80),
)
anything = st.text(alphabet=ATEXT + TRICKY, max_size=40)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(plausible, structured, mutated, anything))
@example("Ann.Lee+news@Example.ORG")
@example("a@b.co")
@example("x@" + "a" * 63 + ".com")
@example("x@" + "a" * 64 + ".com")
@example("a" * 64 + "@example.org")
@example("a" * 65 + "@example.org")
@example("a@" + ".".join(["b" * 60] * 4) + ".de")
def test_fast_path_agrees_with_email_validator(value: str) -> None:
    fast = plain_email(value)
    if fast is not None:
        assert fast == reference(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("anna.mueller.12345@example.org", "anna.mueller.12345@example.org"),
        ("Ann.Lee+news@Example.ORG", "ann.lee+news@example.org"),
        ("INFO@shop.example.com", "info@shop.example.com"),
        ("o'brien_{x}@sub-domain.example.co", "o'brien_{x}@sub-domain.example.co"),
    ],
)
def test_common_addresses_take_the_fast_path(value: str, expected: str) -> None:
    assert plain_email(value) == expected == reference(value)


@pytest.mark.parametrize(
    "value",
    [
        "jörg@example.org",  # Unicode: email-validator normalises it
        "a@xn--bcher-kva.de",  # IDNA: shown as bücher.de
        '"quoted"@example.org',
        "Ann <ann@example.org>",
        "a@[192.0.2.1]",
        "a@example.local",  # special-use domain
        "a@localhost",
        "a..b@example.org",
        "a@-example.org",
        "a@example.1",
        " a@example.org",
        "a" * 65 + "@example.org",  # strict mode would refuse it: not decided here
    ],
)
def test_everything_else_goes_to_email_validator(value: str) -> None:
    assert plain_email(value) is None


@pytest.mark.parametrize("value", ["jörg@example.org", "a@xn--bcher-kva.de", "Ä@EXAMPLE.org"])
def test_normalize_email_still_uses_email_validator_outside_the_fast_path(value: str) -> None:
    assert normalize_email(value) == reference(value)


@pytest.mark.parametrize("value", ["not-an-email", "a..b@example.org", "a@example.local"])
def test_invalid_addresses_are_refused(value: str) -> None:
    with pytest.raises(AddressError):
        normalize("email", value)


def test_phone_numbers_are_unchanged() -> None:
    assert normalize("sms", "+49 151 23456789") == "+4915123456789"
    with pytest.raises(AddressError):
        normalize("sms", "+49 1")
