"""Every request the product builds, checked against what AWS accepts (botocore's service
models, through the twin's contract checker): package registration, endpoint configurations and
deployment guardrails, the accuracy alarm, metric data, notifications, SSM parameters and
Feature Store records (the monitoring schedules are the template's: nothing updates them). The
twin refuses the same requests at run time; these catch a violation before any twin runs, with
the builder's own inputs at their extremes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from feecast.adapters.cloudwatch import metric_data_request
from feecast.adapters.notify import clean_subject
from feecast.build.register_model import metadata_refusal, package_request
from feecast.build.settings import RegisterSettings
from feecast.config import ValidationConfig
from feecast.deploy.endpoint_config import EndpointSpec, endpoint_config_request, guardrails
from feecast.ingest.model import MinuteRecord
from feecast.monitor.names import metric_dimensions

from feecast_twin.contracts import check_params, refusal
from feecast_twin.gateway import Call
from tests.support.builds import register_request
from tests.support.template import RESOLVER, RESOURCES


def accepted(service: str, operation: str, params: dict[str, Any]) -> None:
    violations = [v.render() for v in check_params(service, operation, params)]
    assert violations == [], f"{service}.{operation} would be refused: {violations}"


def accepted_beyond_the_model(service: str, operation: str, params: dict[str, Any]) -> None:
    """The limits AWS enforces that its models do not carry (feecast_twin.contracts)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    assert refusal(Call(service, operation, params, model)) is None


def test_the_model_package_registration() -> None:
    settings = RegisterSettings(
        project_name="feecast", ssm_prefix="/feecast", model_package_group_name="feecast-models"
    )
    accepted("sagemaker", "CreateModelPackage", package_request(register_request(), settings))
    no_baseline = register_request(baseline_wql=None, deepar_test_wql=None)
    accepted("sagemaker", "CreateModelPackage", package_request(no_baseline, settings))


def test_metadata_that_sagemaker_would_refuse_is_caught_before_it_is_sent() -> None:
    assert metadata_refusal("0.05 0.5 0.95") is None
    assert metadata_refusal("s3://bucket/builds/x/evaluation.json") is None
    assert metadata_refusal("0.05,0.5,0.95") == "character ',' is not allowed"


@pytest.mark.parametrize(
    "spec",
    [
        EndpointSpec("Serverless", serverless_memory_mb=6144, serverless_max_concurrency=200),
        EndpointSpec("Provisioned", instance_type="ml.m5.large", instance_count=3),
    ],
)
def test_endpoint_configurations_and_guarded_updates(spec: EndpointSpec) -> None:
    name = "feecast-production-v12-20260105t000000"
    accepted(
        "sagemaker",
        "CreateEndpointConfig",
        endpoint_config_request(name, "feecast-v12-20260105t000000", spec),
    )
    for bake in (0, 3600):
        config = guardrails(spec, bake_seconds=bake, alarm_names=["feecast-production-errors"])
        accepted(
            "sagemaker",
            "UpdateEndpoint",
            {
                "EndpointName": "feecast-production",
                "EndpointConfigName": name,
                "DeploymentConfig": config,
            },
        )


@pytest.mark.parametrize("logical_id", ["StagingAccuracyAlarm", "ProductionAccuracyAlarm"])
def test_the_accuracy_alarms_of_the_template(logical_id: str) -> None:
    # CloudFormation makes them with PutMetricAlarm: the same shape (Metrics, metric math).
    alarm = RESOLVER.resolve(RESOURCES[logical_id]["Properties"])
    accepted("cloudwatch", "PutMetricAlarm", alarm)


def test_the_hourly_metric_data() -> None:
    request = metric_data_request(
        "feecast",
        metric_dimensions("production", "feecast-production"),
        datetime(2026, 1, 5, 12, tzinfo=UTC),
        {"MeanWeightedQuantileLoss": 0.2, "NaiveWeightedQuantileLoss": 0.3, "Threshold": 0.24},
    )
    accepted("cloudwatch", "PutMetricData", request)
    accepted_beyond_the_model("cloudwatch", "PutMetricData", request)


@pytest.mark.parametrize(
    "subject",
    [
        "feecast: approve model v12 for production?",
        "feecast: " + "a very long subject that goes on " * 5,
        "feecast: na\u00efve baseline \u2013 beaten\nby 12 %",
    ],
)
def test_notification_subjects(subject: str) -> None:
    params = {
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:feecast-notifications",
        "Subject": clean_subject(subject),
        "Message": "body",
    }
    accepted("sns", "Publish", params)
    accepted_beyond_the_model("sns", "Publish", params)


def test_the_validation_parameter_written_on_approval() -> None:
    value = ValidationConfig(
        threshold=0.123456789, robust_tolerance=0.05, retrain_when="any"
    ).model_dump_json(exclude_none=True)
    accepted(
        "ssm",
        "PutParameter",
        {"Name": "/feecast/validation", "Value": value, "Type": "String", "Overwrite": True},
    )


@pytest.mark.parametrize("count", [0, 1, 12_345])
def test_feature_store_records(count: int) -> None:
    record = MinuteRecord(minute=29_443_680, count=count, total_fee=987_654_321 if count else 0)
    accepted(
        "sagemaker-featurestore-runtime",
        "PutRecord",
        {"FeatureGroupName": "feecast-transactions", "Record": record.to_features()},
    )
