"""Signed approval links (pure): the task token never leaves the StateTable.

A link carries a random approval id, the decision, the expiry (epoch seconds) and an HMAC-SHA256
over the three, keyed by a secret only the template's functions can read. The callback checks
the signature (forgery, tampering) and the expiry, then consumes the record once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

Decision = Literal["approve", "reject"]
DECISIONS: tuple[Decision, ...] = ("approve", "reject")


class LinkError(ValueError):
    """A link that must be refused. `status` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def new_approval_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def _message(approval_id: str, decision: str, expires: int) -> bytes:
    # Newline-separated: none of the fields may contain one, so the encoding is unambiguous.
    return f"{approval_id}\n{decision}\n{expires}".encode()


def sign(secret: str | bytes, approval_id: str, decision: str, expires: int) -> str:
    if decision not in DECISIONS:
        raise ValueError(f"decision {decision!r} must be one of {DECISIONS}")
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the signing secret is empty")
    return hmac.new(key, _message(approval_id, decision, expires), hashlib.sha256).hexdigest()


def link(
    base_url: str, secret: str | bytes, approval_id: str, decision: Decision, expires: int
) -> str:
    query = urlencode(
        {
            "decision": decision,
            "expires": expires,
            "signature": sign(secret, approval_id, decision, expires),
        }
    )
    return f"{base_url.rstrip('/')}/approvals/{approval_id}?{query}"


@dataclass(frozen=True)
class VerifiedLink:
    approval_id: str
    decision: Decision
    expires: int


def verify(
    secret: str | bytes,
    approval_id: str | None,
    decision: str | None,
    expires: str | int | None,
    signature: str | None,
    *,
    now: float,
) -> VerifiedLink:
    """Check a link's fields; LinkError(400 malformed | 403 forged | 410 expired) otherwise."""
    if not approval_id or not decision or expires in (None, "") or not signature:
        raise LinkError(
            400, "the link is incomplete (id, decision, expires and signature are needed)"
        )
    if decision not in DECISIONS:
        raise LinkError(400, f"unknown decision {decision!r}")
    try:
        expires_at = int(expires)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LinkError(400, "the link's expiry is not a number") from None
    expected = sign(secret, approval_id, decision, expires_at)
    if not hmac.compare_digest(expected, str(signature).lower()):
        raise LinkError(403, "the link's signature does not match: it was altered or forged")
    if now >= expires_at:
        raise LinkError(410, "the link has expired: the approval window is over")
    return VerifiedLink(approval_id, decision, expires_at)
