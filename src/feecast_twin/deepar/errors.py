"""The algorithm's error kinds, spelled as SageMaker spells them in FailureReason."""

from __future__ import annotations


class ClientError(ValueError):
    """The caller's input is wrong (hyperparameters, data). FailureReason "ClientError: ..."."""

    prefix = "ClientError"

    @property
    def failure_reason(self) -> str:
        return f"{self.prefix}: {self}"


class AlgorithmError(RuntimeError):
    """The algorithm itself failed on valid input. FailureReason "AlgorithmError: ..."."""

    prefix = "AlgorithmError"

    @property
    def failure_reason(self) -> str:
        return f"{self.prefix}: {self}"


class InferenceError(ValueError):
    """A bad inference request: the container answers 400 with this message."""
