"""Faults in monitoring (issue 9): the hourly run and the activation on the twin reach a defined
outcome when a dependency fails, and production keeps serving.

Defined outcomes (docs/monitoring.md):
- a failure the run can work around (the endpoint cannot forecast, the stored forecast is gone)
  is *reported*: the run succeeds, `forecast_failures` / `next_forecast.reason` say why, the EMF
  metric MonitoringForecastFailures counts it, and no loss is published without a forecast;
- a failure it cannot (configuration unreadable, Feature Store unreadable) is a *handler error*:
  nothing is published, Lambda's asynchronous retries (3 attempts) repeat it, the idempotency
  record is released, and a replay of the hour after the repair publishes once;
- transient throttling is absorbed by the SDK's retries: the run publishes as usual.

Production is the tiny local DeepAR of conftest.py (`model_tar`) behind `feecast-production`,
with a few hours of Feature Store minutes around the monitored hours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.drivers import fee, put_minutes

pytestmark = pytest.mark.slow

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the twin's clock at deploy
T0, T1, T2 = START, START + timedelta(hours=1), START + timedelta(hours=2)
ENDPOINT = "feecast-production"
DIMS = {"Stage": "production", "EndpointName": ENDPOINT}
VALIDATION = "/feecast/validation"


def serve_production(twin: Any, model_tar: bytes, serve_stage: Any) -> None:
    """Minutes from T0-2h to T2, and production serving the model (created as the deploy stage
    would; its IN_SERVICE event activates monitoring)."""
    put_minutes(twin, T0 - timedelta(hours=2), T2)
    serve_stage(twin, model_tar, "production")


def run(twin: Any, at: datetime) -> dict[str, Any]:
    """The hourly run for `at`, invoked as the schedule would."""
    return twin.invoke(  # type: ignore[no-any-return]
        "MonitorEndpointFunction",
        {
            "stage": "production",
            "endpoint_name": ENDPOINT,
            "scheduled_time": f"{at:%Y-%m-%dT%H:%M:%SZ}",
        },
    )


def published(twin: Any, metric: str) -> dict[datetime, float]:
    return dict(twin.metric_data("feecast", metric, DIMS))


def forecast_failures(twin: Any) -> list[float]:
    return [v for _, v in twin.metric_data("feecast", "MonitoringForecastFailures") if v]


def stored_forecast(twin: Any, origin: datetime) -> dict[str, Any] | None:
    return (  # type: ignore[no-any-return]
        twin.client("dynamodb")
        .get_item(
            TableName=twin.physical_id("StateTable"),
            Key={
                "pk": {"S": f"FORECAST#{ENDPOINT}"},
                "sk": {"S": f"ORIGIN#{origin:%Y-%m-%dT%H:%M:%SZ}"},
            },
            ConsistentRead=True,
        )
        .get("Item")
    )


def assert_production_serves(twin: Any) -> None:
    from feecast.deepar import inference_request, parse_endpoint_response
    from feecast.series import MinuteSeries

    state = twin.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert state["EndpointStatus"] == "InService"
    context = MinuteSeries(
        T0 - timedelta(hours=1), [fee(T0 + timedelta(minutes=i)) for i in range(60)]
    )
    body = inference_request([context], num_samples=20, quantiles=["0.1", "0.5", "0.9"])
    answer = twin.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="application/json", Body=json.dumps(body)
    )
    assert len(parse_endpoint_response(answer["Body"].read())[0]) == 30


# -- the endpoint cannot forecast ------------------------------------------------------------------
@pytest.mark.twin(start=START)
def test_given_invoke_throttled_briefly_then_the_sdk_retries_and_the_loss_is_published(
    twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    serve_production(twin, model_tar, serve_stage)
    fault = twin.faults.fail(
        "sagemaker-runtime",
        "InvokeEndpoint",
        times=2,
        when=lambda p: p.get("EndpointName") == ENDPOINT,
    )
    result = run(twin, T0)
    assert fault.injected == 2 and fault.exhausted
    assert result["forecast_source"] == "recomputed" and result["forecast_failures"] == []
    assert result["next_forecast"]["stored"] is True and stored_forecast(twin, T0) is not None
    assert list(published(twin, "WeightedQuantileLoss")) == [T0]
    assert 0 < published(twin, "WeightedQuantileLoss")[T0] < 1
    assert forecast_failures(twin) == []
    assert_production_serves(twin)


@pytest.mark.twin(start=START)
def test_given_invoke_failing_for_good_then_it_is_reported_and_no_loss_is_made_up(
    twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    """T0 stores a forecast; at T1 the endpoint fails (a container answering 500): the stored
    forecast is still scored, the next one is missing; at T2 there is nothing to score."""
    serve_production(twin, model_tar, serve_stage)
    assert run(twin, T0)["next_forecast"]["stored"] is True

    fault = twin.faults.fail(
        "sagemaker-runtime",
        "InvokeEndpoint",
        code="ModelError",
        times=None,
        when=lambda p: p.get("EndpointName") == ENDPOINT,
        extra={"OriginalStatusCode": 500, "OriginalMessage": "container crashed"},
    )
    at_t1 = run(twin, T1)
    assert at_t1["forecast_source"] == "stored" and at_t1["loss"] is not None
    assert at_t1["next_forecast"]["stored"] is False and stored_forecast(twin, T1) is None
    (why,) = at_t1["forecast_failures"]
    assert "ModelError" in why

    at_t2 = run(twin, T2)
    assert at_t2["forecast_source"] == "none" and at_t2["loss"] is None
    assert len(at_t2["forecast_failures"]) == 2  # the recomputation and the next forecast
    fault.cancel()

    # What was published: a loss only where a forecast was scored; the threshold every hour.
    assert list(published(twin, "WeightedQuantileLoss")) == [T0, T1]
    assert published(twin, "Threshold") == {T0: 0.24, T1: 0.24, T2: 0.24}
    assert T2 in published(twin, "BaselineWeightedQuantileLoss")  # the baseline needs no endpoint
    assert forecast_failures(twin) == [1.0, 2.0]
    assert_production_serves(twin)


@pytest.mark.twin(start=START)
def test_given_the_endpoint_deleted_and_the_stored_forecast_lost_then_each_run_says_why(
    twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    serve_production(twin, model_tar, serve_stage)
    assert run(twin, T0)["next_forecast"]["stored"] is True
    assert run(twin, T1)["forecast_source"] == "stored"

    # The stored forecast for T1's origin disappears: the run asks the endpoint again.
    twin.client("dynamodb").delete_item(
        TableName=twin.physical_id("StateTable"),
        Key={"pk": {"S": f"FORECAST#{ENDPOINT}"}, "sk": {"S": f"ORIGIN#{T1:%Y-%m-%dT%H:%M:%SZ}"}},
    )
    at_t2 = run(twin, T2)
    assert at_t2["forecast_source"] == "recomputed" and at_t2["loss"] is not None
    assert list(published(twin, "WeightedQuantileLoss")) == [T0, T1, T2]
    assert_production_serves(twin)

    # The endpoint is deleted: the forecast stored at T2 is still scored; nothing is asked.
    twin.client("sagemaker").delete_endpoint(EndpointName=ENDPOINT)
    twin.settle()
    t3 = T2 + timedelta(hours=1)
    put_minutes(twin, T2, t3)
    at_t3 = run(twin, t3)
    assert at_t3["forecast_source"] == "stored" and at_t3["loss"] is not None
    assert at_t3["next_forecast"] == {
        "origin": f"{t3:%Y-%m-%dT%H:%M:%SZ}",
        "stored": False,
        "reason": f"endpoint {ENDPOINT} is not serving (absent)",
    }
    assert at_t3["forecast_failures"] == []
    assert list(published(twin, "WeightedQuantileLoss")) == [T0, T1, T2, t3]
    # Nothing is left to score: the next hour's run skips (the schedule stays enabled).
    after = run(twin, t3 + timedelta(hours=1))
    assert after["skipped"] == f"endpoint {ENDPOINT} does not exist"
    assert list(published(twin, "WeightedQuantileLoss")) == [T0, T1, T2, t3]


# -- configuration and Feature Store: handler errors --------------------------------------------
@pytest.mark.twin(start=START)
def test_given_the_threshold_missing_then_corrupt_then_scheduled_runs_fail_and_replays_publish_once(
    twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    serve_production(twin, model_tar, serve_stage)
    ssm = twin.client("ssm")
    good = ssm.get_parameter(Name=VALIDATION)["Parameter"]["Value"]
    assert (
        twin.client("scheduler").get_schedule(Name="feecast-production-monitoring")["State"]
        == "ENABLED"
    )

    ssm.delete_parameter(Name=VALIDATION)
    twin.advance(timedelta(hours=1), step=timedelta(minutes=30))  # the schedule fires at T1
    ssm.put_parameter(Name=VALIDATION, Value=json.dumps({"threshold": "high"}), Overwrite=True)
    twin.advance(timedelta(hours=1), step=timedelta(minutes=30))  # and at T2

    attempts = [
        r
        for r in twin.records_of("target-invoked")
        if r.get("target") == "feecast-production-monitoring"
    ]
    # Each hour: Lambda's asynchronous invocation, tried three times, failing clearly each time.
    assert [(r["attempt"], r["status"], r["error_type"]) for r in attempts] == [
        (n, "FAILED", "ConfigError") for n in (1, 2, 3)
    ] * 2
    assert published(twin, "Threshold") == {} and published(twin, "WeightedQuantileLoss") == {}
    assert stored_forecast(twin, T1) is None and stored_forecast(twin, T2) is None
    assert_production_serves(twin)

    # Repaired, the two hours are replayed (their idempotency records were released): each
    # publishes once, with the threshold SSM holds now.
    ssm.put_parameter(Name=VALIDATION, Value=good, Overwrite=True)
    for hour in (T1, T2):
        result = run(twin, hour)
        assert result["replayed"] is False and result["threshold"] == 0.24
    assert published(twin, "Threshold") == {T1: 0.24, T2: 0.24}
    assert run(twin, T2)["replayed"] is True
    assert published(twin, "Threshold") == {T1: 0.24, T2: 0.24}


@pytest.mark.twin(start=START)
def test_given_feature_store_throttling_then_brief_bursts_are_retried_and_long_ones_fail_the_run(
    twin: Any, model_tar: bytes, serve_stage: Any
) -> None:
    serve_production(twin, model_tar, serve_stage)
    # A burst: the feature group's description and its offline-store objects, twice each.
    burst = [
        twin.faults.fail("sagemaker", "DescribeFeatureGroup", times=2),
        twin.faults.fail("s3", "GetObject", code="SlowDown", times=2),
    ]
    at_t0 = run(twin, T0)
    assert [f.injected for f in burst] == [2, 2]
    assert at_t0["loss"] is not None and list(published(twin, "WeightedQuantileLoss")) == [T0]

    # For good: the run fails before publishing anything, and its hour can be run again.
    fault = twin.faults.fail("sagemaker", "DescribeFeatureGroup", times=None)
    from feecast_twin.core import TwinInvokeError

    with pytest.raises(TwinInvokeError) as failed:
        run(twin, T1)
    assert "ThrottlingException" in str(failed.value)
    assert fault.injected == 3  # the SDK's standard retry mode: three attempts
    assert list(published(twin, "WeightedQuantileLoss")) == [T0]
    assert T1 not in published(twin, "Threshold") and stored_forecast(twin, T1) is None
    fault.cancel()
    assert run(twin, T1)["replayed"] is False
    assert list(published(twin, "WeightedQuantileLoss")) == [T0, T1]
    assert_production_serves(twin)


# -- activation ---------------------------------------------------------------------------------
@pytest.mark.twin(start=START)
def test_given_enable_alarm_actions_throttled_when_production_goes_in_service_then_activation_retries(
    twin: Any, model_tar: bytes, load_event: Any, serve_stage: Any
) -> None:
    """Throttled for good: the IN_SERVICE delivery fails three times and changes nothing (the
    alarm's actions are enabled first); the same event, redelivered after the burst, activates
    once. The alarm is the template's; a teardown had disabled its actions."""
    cloudwatch = twin.client("cloudwatch")
    cloudwatch.disable_alarm_actions(AlarmNames=["feecast-production-accuracy"])
    fault = twin.faults.fail("cloudwatch", "EnableAlarmActions", times=None)
    serve_production(twin, model_tar, serve_stage)
    attempts = [
        r for r in twin.records_of("target-invoked") if "ActivateMonitoring" in str(r.get("arn"))
    ]
    # The CREATING event changes nothing; IN_SERVICE's delivery is tried three times.
    assert [r["status"] for r in attempts[:-3]] == ["SUCCEEDED"]
    assert [(r["attempt"], r["status"], r["error_type"]) for r in attempts[-3:]] == [
        (1, "FAILED", "ClientError"),
        (2, "FAILED", "ClientError"),
        (3, "FAILED", "ClientError"),
    ]
    assert fault.injected == 9  # 3 deliveries x the SDK's 3 attempts
    (kept,) = cloudwatch.describe_alarms(AlarmNames=["feecast-production-accuracy"])["MetricAlarms"]
    assert kept["ActionsEnabled"] is False
    assert not [m for m in twin.sns_messages() if "monitoring of" in (m["subject"] or "")]
    assert_production_serves(twin)

    # A brief burst on redelivery is absorbed by the SDK; the activation happens once.
    fault.cancel()
    burst = twin.faults.fail("cloudwatch", "EnableAlarmActions", times=2)
    event = load_event("monitor-endpoint-in-service.json")
    event["time"] = f"{twin.clock.now():%Y-%m-%dT%H:%M:%SZ}"
    event["resources"] = [event["resources"][0].replace("feecast-staging", ENDPOINT)]
    event["detail"] |= {
        "EndpointName": ENDPOINT,
        "EndpointArn": event["resources"][0],
        "EndpointConfigName": "feecast-production-tiny",
    }
    report = twin.send_event(event)
    assert [t.status for t in report.targets if "ActivateMonitoring" in t.arn] == ["SUCCEEDED"]
    assert burst.injected == 2
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["feecast-production-accuracy"])[
        "MetricAlarms"
    ]
    assert alarm["ActionsEnabled"] is True
    assert len([m for m in twin.sns_messages() if "monitoring of" in (m["subject"] or "")]) == 1
