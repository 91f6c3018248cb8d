"""Signed approval links: forged, tampered, expired and malformed links are refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from feecast.deploy import links
from hypothesis import given
from hypothesis import strategies as st

SECRET = "k" * 64
NOW = 1_767_600_000


def _fields(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return parts.path.rsplit("/", 1)[-1], q["decision"], q["expires"], q["signature"]


def test_given_a_fresh_link_when_verified_then_it_is_accepted_and_carries_no_token() -> None:
    url = links.link("https://api.example.com/", SECRET, "abc_123", "approve", NOW + 60)
    assert url.startswith("https://api.example.com/approvals/abc_123?")
    assert "token" not in url.lower()
    ok = links.verify(SECRET, *_fields(url), now=NOW)
    assert ok == links.VerifiedLink("abc_123", "approve", NOW + 60)


def test_given_a_link_signed_with_another_key_when_verified_then_403() -> None:
    url = links.link("https://x", "another-secret", "abc", "approve", NOW + 60)
    with pytest.raises(links.LinkError) as err:
        links.verify(SECRET, *_fields(url), now=NOW)
    assert err.value.status == 403


@pytest.mark.parametrize("field", ["id", "decision", "expires"])
def test_given_a_tampered_link_when_verified_then_403(field: str) -> None:
    approval_id, decision, expires, signature = _fields(
        links.link("https://x", SECRET, "abc", "reject", NOW + 60)
    )
    if field == "id":
        approval_id = "abd"
    elif field == "decision":
        decision = "approve"  # turning a reject link into an approval
    else:
        expires = str(NOW + 10**6)  # extending the window
    with pytest.raises(links.LinkError) as err:
        links.verify(SECRET, approval_id, decision, expires, signature, now=NOW)
    assert err.value.status == 403


def test_given_an_expired_link_when_verified_then_410() -> None:
    url = links.link("https://x", SECRET, "abc", "approve", NOW)
    with pytest.raises(links.LinkError) as err:
        links.verify(SECRET, *_fields(url), now=NOW)
    assert err.value.status == 410


@pytest.mark.parametrize(
    "fields",
    [
        (None, "approve", "1", "00"),
        ("a", None, "1", "00"),
        ("a", "approve", None, "00"),
        ("a", "approve", "1", None),
        ("a", "maybe", "1", "00"),
        ("a", "approve", "soon", "00"),
    ],
)
def test_given_a_malformed_link_when_verified_then_400(fields: tuple) -> None:
    with pytest.raises(links.LinkError) as err:
        links.verify(SECRET, *fields, now=NOW)
    assert err.value.status == 400


def test_given_an_empty_secret_when_signing_then_it_refuses() -> None:
    with pytest.raises(ValueError, match="empty"):
        links.sign("", "a", "approve", 1)


def test_approval_ids_are_random_and_url_safe() -> None:
    ids = {links.new_approval_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) >= 20 and all(c.isalnum() or c in "-_" for c in i) for i in ids)


def test_approval_ids_never_start_with_a_dash() -> None:
    # `feecast approve -abc...` would be parsed as an option (a 1-in-64 demo failure, seen).
    assert not any(links.new_approval_id().startswith("-") for _ in range(2000))


@given(
    approval_id=st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=30),
    decision=st.sampled_from(links.DECISIONS),
    forged=st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_property_a_guessed_signature_is_refused(
    approval_id: str, decision: str, forged: str
) -> None:
    real = links.sign(SECRET, approval_id, decision, NOW + 60)
    if forged == real:
        return
    with pytest.raises(links.LinkError) as err:
        links.verify(SECRET, approval_id, decision, NOW + 60, forged, now=NOW)
    assert err.value.status == 403


@pytest.mark.parametrize(
    "signature",
    ["é" * 64, "0" * 63, "0" * 65, "g" * 64, "0" * 10_000, " " + "0" * 63],
)
def test_given_a_signature_not_in_its_format_when_verified_then_400_before_any_hmac(
    signature: str,
) -> None:
    # Non-ASCII text used to reach hmac.compare_digest, which raises TypeError on it (a 500).
    with pytest.raises(links.LinkError) as err:
        links.verify(SECRET, "abc", "approve", NOW + 60, signature, now=NOW)
    assert (err.value.status, err.value.code) == (400, "Malformed")


@pytest.mark.parametrize("approval_id", ["a/b", "a\nb", "x" * 65, "../etc", "é"])
def test_given_an_id_not_in_its_format_when_verified_then_400(approval_id: str) -> None:
    signature = links.sign(SECRET, approval_id, "approve", NOW + 60)
    with pytest.raises(links.LinkError) as err:
        links.verify(SECRET, approval_id, "approve", NOW + 60, signature, now=NOW)
    assert (err.value.status, err.value.code) == (400, "Malformed")


def test_refusals_carry_a_low_cardinality_code_and_no_request_text() -> None:
    url = links.link("https://x", SECRET, "abc", "approve", NOW + 60)
    approval_id, decision, expires, signature = _fields(url)
    with pytest.raises(links.LinkError) as forged:
        links.verify(SECRET, approval_id, decision, expires, "f" * 64, now=NOW)
    with pytest.raises(links.LinkError) as expired:
        links.verify(SECRET, approval_id, decision, expires, signature, now=NOW + 60)
    with pytest.raises(links.LinkError) as unknown:
        links.verify(SECRET, approval_id, "<script>", expires, signature, now=NOW)
    assert [e.value.code for e in (forged, expired, unknown)] == [
        "BadSignature",
        "Expired",
        "Malformed",
    ]
    assert "<script>" not in unknown.value.reason
    # Upper-case hex is the same signature.
    ok = links.verify(SECRET, approval_id, decision, expires, signature.upper(), now=NOW)
    assert ok.approval_id == "abc"
