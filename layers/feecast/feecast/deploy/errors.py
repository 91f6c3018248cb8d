"""Errors the deploy state machine retries by name (statemachines/model_deploy.asl.json).

A throttle that outlasts the SDK's retries must not fail a deployment a person has approved:
the step raises `AwsThrottled` (feecast.adapters.errors, shared with the build), which the
state's Retry repeats with a longer back-off. Every step that uses `retry_throttling` is
idempotent (deterministic names, conditional claims), so a repeat is safe.
"""

from __future__ import annotations

from feecast.adapters.errors import THROTTLING_CODES, AwsThrottled, retry_throttling

__all__ = ["THROTTLING_CODES", "AwsThrottled", "retry_throttling"]
