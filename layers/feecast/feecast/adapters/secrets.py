"""Secrets Manager: the approval links' HMAC key, through Powertools Parameters."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

_SECRET_MAX_AGE = 300


class LinkSecret:
    """The HMAC key of the approval links (deploy's Secrets port), cached 5 minutes."""

    def __init__(self, secret_arn: str) -> None:
        self.secret_arn = secret_arn

    def get(self) -> str:
        value = parameters.get_secret(self.secret_arn, max_age=_SECRET_MAX_AGE)
        if not value:
            raise RuntimeError(
                f"secret {self.secret_arn} is empty: approval links cannot be signed"
            )
        return str(value)
