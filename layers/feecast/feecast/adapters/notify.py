"""Notifications: one SNS topic, a subject line and a readable body with the facts as JSON, and
the same outcome as an EventBridge event for other systems (feecast.lifecycle, docs/events.md).

`notify` publishes the SNS message (with the event's message attributes, for subscription filter
policies) and then puts the event on the default bus; it raises when either fails (after the
SDK's retries; a PutEvents entry EventBridge refuses raises `EventNotPut`). `notify_or_count` is
for publishers whose work is already done and must not fail because a message could not be sent:
it logs the failure, counts `NotificationsFailed` and says why instead. A retry after a failed
PutEvents sends the e-mail again: notifications are at least once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from feecast.adapters import clients
from feecast.lifecycle import LifecycleEvent
from feecast.observability import logger, metrics

# SNS Publish: a Subject "must be less than 100 characters long", ASCII text without line breaks
# or control characters (docs.aws.amazon.com/sns/latest/api/API_Publish.html): at most 99.
MAX_SUBJECT = 99


def clean_subject(subject: str) -> str:
    """The subject as SNS accepts it: one line of printable ASCII (others become "?"), at most
    MAX_SUBJECT characters ("..." marks a cut)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in subject).split())
    text = "".join(c if " " <= c <= "~" else "?" for c in text) or "feecast"
    if len(text) <= MAX_SUBJECT:
        return text
    return text[: MAX_SUBJECT - 3].rstrip() + "..."


class EventNotPut(RuntimeError):
    """EventBridge answered PutEvents but refused the entry (FailedEntryCount 1)."""


def _sns() -> Any:
    return clients.client("sns")


def _events() -> Any:
    return clients.client("events")


def notify(
    topic_arn: str,
    subject: str,
    message: str,
    facts: Mapping[str, Any] | None = None,
    *,
    event: LifecycleEvent,
) -> str:
    """Publish a notification and its lifecycle event; returns the SNS message id.

    `message` is the sentence a person reads first; `facts` follow as indented JSON so the
    same e-mail is readable and machine-parsable. `event` (feecast.lifecycle.lifecycle_event)
    gives the message attributes and the EventBridge event.
    """
    body = message if not facts else f"{message}\n\n{json.dumps(facts, indent=2, default=str)}"
    sent_subject = clean_subject(subject)
    response = _sns().publish(
        TopicArn=topic_arn,
        Subject=sent_subject,
        Message=body,
        MessageAttributes=event.sns_attributes(),
    )
    put = _events().put_events(Entries=[event.put_events_entry()])
    if put.get("FailedEntryCount"):
        entry = (put.get("Entries") or [{}])[0]
        raise EventNotPut(
            f"EventBridge refused the {event.detail_type.value!r} event: "
            f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
        )
    logger.info(
        "notification sent",
        extra={
            "subject": sent_subject,
            "facts": facts or {},
            "detail_type": event.detail_type.value,
            "event_id": (put.get("Entries") or [{}])[0].get("EventId"),
        },
    )
    return str(response["MessageId"])


def notify_or_count(
    topic_arn: str,
    subject: str,
    message: str,
    facts: Mapping[str, Any] | None = None,
    *,
    event: LifecycleEvent,
) -> str | None:
    """`notify`, but a failure is logged (ERROR "notification not sent", with the subject),
    counted (metric NotificationsFailed) and returned as "<error type>: <message>"; None when
    the notification was sent."""
    try:
        notify(topic_arn, subject, message, facts, event=event)
    except Exception as exc:
        logger.exception("notification not sent", extra={"subject": subject})
        metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
        return f"{type(exc).__name__}: {exc}"
    return None
