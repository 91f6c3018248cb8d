"""Notify The Build Failed: the step, the error and a readable reason from any Cause."""

from __future__ import annotations

import json
from pathlib import Path

from feecast.build.report_build_failure import FailureRequest, describe_failure, reason_from_cause

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_given_a_failed_training_job_then_the_reason_is_its_failure_reason() -> None:
    event = json.loads((EVENTS / "build-training-failed-error.json").read_text())
    report = describe_failure(
        FailureRequest(
            execution_name=event["execution_name"],
            execution_arn=event["execution_arn"],
            trigger=event["state"]["trigger"],
            errors=event["state"]["errors"],
        )
    )
    assert report.step == "Train The Model"
    assert report.error == "States.TaskFailed"
    assert report.final_error == "TrainingFailed"  # Fail states may not use "States.*"
    assert report.reason == "ClientError: Invalid hyperparameter value for context_length"
    assert "failed at step 'Train The Model'" in report.message
    assert "No model was registered" in report.message
    assert report.facts["trigger"] == "alarm"
    assert len(report.subject) <= 100


def test_given_a_lambda_error_then_the_reason_is_its_error_message() -> None:
    cause = json.dumps(
        {"errorMessage": "too_short: train part has 120 observed points", "errorType": "DataRefused",
         "stackTrace": ["  File ..."]}
    )  # fmt: skip
    report = describe_failure(
        FailureRequest(
            execution_name="manual-x",
            execution_arn="arn",
            errors={"prepare": {"Error": "DataRefused", "Cause": cause}},
        )
    )
    assert report.step == "Prepare The Data"
    assert report.reason == "too_short: train part has 120 observed points"
    assert "ingestion" in report.message  # the advice for DataRefused


def test_given_plain_or_missing_causes_then_the_text_is_used() -> None:
    assert reason_from_cause("Job timed out") == "Job timed out"
    assert reason_from_cause(None) == "no cause was given"
    assert reason_from_cause('["not", "an object"]') == '["not", "an object"]'
    assert describe_failure(FailureRequest(execution_name="x", execution_arn="a")).step == "unknown"
