"""Imported once by the Lambda workers' fork server (feecast_twin.procs.launch): boto3's default
session with the API models of the services the functions call already read.

A new Lambda worker creating its first clients spends most of its cold start reading botocore's
JSON models (0.25-0.45 s for three services, measured). Read once here, they are inherited by
every forked worker. Only data is loaded: no client is created, no credential, region or
configuration is resolved, so each worker resolves those from its own environment, as a fresh
process would (this module runs with AWS_CONFIG_FILE=/dev/null, as the workers do).
"""

from __future__ import annotations

import boto3

#: The services the functions call (template.yaml's policies name the same ones).
SERVICES = (
    "cloudwatch",
    "dynamodb",
    "events",
    "lambda",
    "logs",
    "s3",
    "sagemaker",
    "sagemaker-featurestore-runtime",
    "sagemaker-runtime",
    "scheduler",
    "secretsmanager",
    "sns",
    "ssm",
    "stepfunctions",
)


def warm() -> None:
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    loader = session._session.get_component("data_loader")
    for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
        loader.load_data(name)
    for service in SERVICES:
        for kind in ("service-2", "endpoint-rule-set-1"):
            loader.load_service_model(service, kind)


warm()
