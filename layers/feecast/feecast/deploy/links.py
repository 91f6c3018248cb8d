"""Signed approval links (pure): the task token never leaves the StateTable.

A link carries a random approval id, the decision, the expiry (epoch seconds) and an HMAC-SHA256
over the three, keyed by a secret only the template's functions can read. The callback checks
the signature (forgery, tampering) and the expiry, then consumes the record once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

Decision = Literal["approve", "reject"]
# Why a link is refused (a subset of feecast.deploy.approvals.RefusalCode).
LinkRefusal = Literal["Malformed", "BadSignature", "Expired"]
DECISIONS: tuple[Decision, ...] = ("approve", "reject")


# What a well-formed link's fields look like. Anything else is refused before any HMAC is
# computed or any record read: no attacker-chosen text reaches the signature check, a log line
# or DynamoDB (and hmac.compare_digest only compares ASCII strings).
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_EXPIRES = re.compile(r"[0-9]{1,12}")


class LinkError(ValueError):
    """A link that must be refused. `status`: the HTTP status to answer with; `code`: the
    refusal's low-cardinality name (log field and metric dimension); `reason`: for people."""

    def __init__(self, status: int, reason: str, code: LinkRefusal = "Malformed") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code: LinkRefusal = code


def new_approval_id() -> str:
    """128 random bits, URL-safe, never starting with "-": people paste it as a command-line
    argument (`feecast approve ID`), where a leading dash reads as an option."""
    while True:
        approval_id = secrets.token_urlsafe(16)
        if not approval_id.startswith("-"):
            return approval_id


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
    """Check a link's fields; LinkError(400 malformed | 403 forged | 410 expired) otherwise.

    The order matters: the format first, then the signature (constant time), and only a
    genuine link learns whether it has expired."""
    if not approval_id or not decision or expires in (None, "") or not signature:
        raise LinkError(
            400, "the link is incomplete (id, decision, expires and signature are needed)"
        )
    if not ID_PATTERN.fullmatch(approval_id):
        raise LinkError(400, "the link's approval id is not well-formed")
    if decision not in DECISIONS:
        raise LinkError(400, "the link's decision must be approve or reject")
    if not _EXPIRES.fullmatch(str(expires)):
        raise LinkError(400, "the link's expiry is not a number")
    if not _SIGNATURE.fullmatch(signature):
        raise LinkError(400, "the link's signature is not well-formed")
    expires_at = int(str(expires))
    expected = sign(secret, approval_id, decision, expires_at)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise LinkError(
            403, "the link's signature does not match: it was altered or forged", "BadSignature"
        )
    if now >= expires_at:
        raise LinkError(410, "the link has expired: the approval window is over", "Expired")
    return VerifiedLink(approval_id, decision, expires_at)
