"""The step helpers that judge what a partner app received (R-AUTHZ-2)."""

from __future__ import annotations

from harness.steps.helpers import keys_in, pin_fields, pin_in, scalars_in


def test_a_token_containing_the_letters_pin_is_not_a_pin_field() -> None:
    """A random token such as ``xPiNq…`` is a value, not a field named after a PIN
    (this matched one run in a few hundred, when the letters came up)."""
    answer = {"access_token": "a8PiNq3xk", "refresh_token": "zzpinzz", "scope": "accounts"}
    assert pin_fields(answer) == []
    assert "a8PiNq3xk" in set(scalars_in(answer))


def test_a_field_named_after_a_pin_is_found_at_any_depth() -> None:
    answer = {"accounts": [{"id": "1", "detail": {"cardPin": "x"}}], "pin": None}
    assert sorted(pin_fields(answer)) == [
        "cardPin",
        "pin",
    ]
    assert set(keys_in(answer)) == {"accounts", "id", "detail", "cardPin", "pin"}


def test_a_pin_is_found_only_as_a_token_of_its_own() -> None:
    assert pin_in("code=1357&state=x", "1357")
    assert not pin_in("balance=913570", "1357")
    assert not pin_in("token=ab1357cd", "1357")
