"""A form post at the door: checked field by field, bots told apart, sealed and queued."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.forms.intake import (
    SEALED_FIELD,
    looks_automated,
    queue_submission,
    read_submission,
    stamp,
)
from candor.ledger.form_specs import FormSpec, load_form
from candor.store.engine import reading
from candor.store.tables import form_submissions


def _form(cx: Candor, form_id: str = "newsletter") -> FormSpec:
    with reading(cx.engine) as conn:
        form = load_form(conn, form_id)
    assert form is not None
    return form


def _read(cx: Candor, fields: dict[str, list[str]], form_id: str = "newsletter") -> object:
    with reading(cx.engine) as conn:
        return read_submission(conn, _form(cx, form_id), fields, "en", {"page": "p"})


GOOD = {"email": [" Pat@Example.org "], "consent": ["newsletter:weekly:email"], "country": ["DE"]}


def _refused(cx: Candor, changes: dict[str, list[str]], form_id: str = "newsletter") -> str:
    with pytest.raises(InvalidInput) as caught:
        _read(cx, {**GOOD, **changes}, form_id)
    return f"{caught.value.field}: {caught.value.problem}"


def test_a_good_post_is_normalised(signup: Candor) -> None:
    sub = _read(signup, {**GOOD, "first_name": ["Pat"], "wording.newsletter": ["1"]})
    assert sub.addresses == {"email": "pat@example.org"}  # type: ignore[attr-defined]
    assert sub.boxes == ("newsletter:weekly:email",)  # type: ignore[attr-defined]
    assert sub.attributes == {"country": "DE"}  # type: ignore[attr-defined]
    assert sub.identity == {"first_name": "Pat"}  # type: ignore[attr-defined]
    assert sub.versions == {"newsletter": 1}  # type: ignore[attr-defined]


def test_bad_input_names_the_field(signup: Candor) -> None:
    assert _refused(signup, {"shoe_size": ["44"]}) == "shoe_size: not a field of this form"
    assert _refused(signup, {"email": ["not-an-address"]}).startswith("email: not a valid")
    assert _refused(signup, {"consent": []}) == "consent: tick at least one box"
    assert _refused(signup, {"consent": ["events::email"]}) == "consent: not a box of this form"
    assert _refused(signup, {"email": [""]}) == "email: is required for the boxes you ticked"
    assert _refused(signup, {"country": ["D\x00E"]}) == "country: must not contain NUL characters"
    assert _refused(signup, {"country": ["x" * 1001]}).startswith("country: is longer than")
    assert _refused(signup, {"email": ["a@b.de", "c@d.de"]}) == "email: was given more than once"
    assert _refused(signup, {"wording.newsletter": ["7"]}).startswith("wording.newsletter: is not")
    with pytest.raises(InvalidInput) as caught:
        _read(signup, {"consent": ["events::sms"], "phone": ["12"]}, "events-sms")
    assert caught.value.field == "phone"


def test_honeypots_stamps_and_speed_tell_bots_apart(signup: Candor) -> None:
    form, now, key = _form(signup), signup.clock.now(), signup.vault.signing_key
    slow = form.model_copy(update={"min_fill_seconds": 3})
    served = stamp(key, form.id, now - timedelta(seconds=10))
    assert not looks_automated(slow, {**GOOD, "started": [served]}, key, now)
    assert not looks_automated(slow, GOOD, key, now)  # the snippet: no stamp to judge by
    assert looks_automated(slow, {**GOOD, "website": ["http://spam.example"]}, key, now)
    assert looks_automated(slow, {**GOOD, "started": [stamp(key, form.id, now)]}, key, now)
    assert looks_automated(slow, {**GOOD, "started": [served + "x"]}, key, now)
    other = stamp(key, "events-sms", now - timedelta(minutes=1))
    assert looks_automated(slow, {**GOOD, "started": [other]}, key, now)


def test_a_queued_submission_is_sealed_under_a_key_of_its_own(signup: Candor) -> None:
    sub = _read(signup, GOOD)
    with signup.engine.begin() as conn:
        queue_submission(conn, signup.vault, sub, signup.clock.now())  # type: ignore[arg-type]
    with reading(signup.engine) as conn:
        row = conn.execute(select(form_submissions)).one()
        assert conn.execute(select(func.count()).select_from(form_submissions)).scalar() == 1
    assert b"pat@example.org" not in row.payload
    opened = signup.vault.decrypt_json(row.key_id, SEALED_FIELD, row.payload)
    assert opened["addresses"] == {"email": "pat@example.org"}
