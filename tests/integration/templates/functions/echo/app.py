"""Test function of the twin's own template: stores what it received, emits one EMF metric."""

import json
import os

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics()
s3 = boto3.client("s3")
BUCKET = os.environ["BUCKET"]  # read at cold start, as handlers do


@metrics.log_metrics
def lambda_handler(event, context):
    metrics.add_metric(name="Echoes", unit=MetricUnit.Count, value=1)
    key = f"invocations/{context.aws_request_id}.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(event).encode())
    print(json.dumps({"level": "INFO", "message": "echoed", "key": key}))
    return {
        "received": event,
        "function_name": context.function_name,
        "project": os.environ["PROJECT_NAME"],
        "memory": context.memory_limit_in_mb,
        "key": key,
    }
