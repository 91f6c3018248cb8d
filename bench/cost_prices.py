"""The eu-west-1 list prices the cost model uses, each with the page it came from and the date it
was looked up ("assumed" says why when no page in reach stated it). Data only: the arithmetic is
bench/cost_model.py, the tables of docs/cost.md are bench/cost_docs.py."""

from __future__ import annotations

from dataclasses import dataclass

REGION = "eu-west-1"
PRICES_LOOKED_UP = "2026-11-24"


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    basis: str  # "found": the page states it for eu-west-1 or for every region; else "assumed: why"


_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_SM = "https://aws.amazon.com/sagemaker/pricing/"
_SM_WHY = (
    "assumed: the page renders regional rates client-side and no eu-west-1 figure was found in "
    "the search corpus; eu-west-1 on-demand rate as recalled from the AWS price list "
    "(us-east-1 x ~1.11)"
)
_CW = "https://aws.amazon.com/cloudwatch/pricing/"
_DDB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_DDB_FOUND = (
    "found (pre-cut eu-west-1 rate 1.4135 USD/M WRU, 0.283 USD/M RRU, "
    "https://engineering-ed7.pages.dev/docs/architecture/aws/services/dynamodb) and halved by the "
    "50% on-demand price cut of 2024-11-01 (https://www.jusdb.com/blog/dynamodb-cost-optimization-a-comprehensive-guide-by-jusdb)"
)
_SMALL = "the line is cents a month, so the regional difference cannot move the total"

PRICES: dict[str, Price] = {
    # Lambda (x86, first tier)
    "lambda_gb_s": Price(
        0.0000166667,
        "USD per GB-second",
        _LAMBDA,
        "assumed: the page shows us-east-1 (cloudchipr.com/blog/aws-lambda-pricing "
        "quotes it); eu-west-1 x86 duration is priced the same",
    ),
    "lambda_request": Price(
        0.20 / 1e6,
        "USD per request",
        _LAMBDA,
        "assumed: us-east-1 figure on the page; same in eu-west-1",
    ),
    # Step Functions standard
    "sfn_transition": Price(
        0.025 / 1000,
        "USD per state transition",
        "https://aws.amazon.com/step-functions/pricing/",
        "found: Europe (Ireland) 0.0250 USD per 1,000 in the region table",
    ),
    # SageMaker (on demand, eu-west-1)
    "sm_hosting:ml.m5.large": Price(0.128, "USD per instance-hour", _SM, _SM_WHY),
    "sm_hosting:ml.m5.xlarge": Price(0.256, "USD per instance-hour", _SM, _SM_WHY),
    "sm_hosting:ml.c5.large": Price(0.115, "USD per instance-hour", _SM, _SM_WHY),
    "sm_hosting:ml.c5.xlarge": Price(0.230, "USD per instance-hour", _SM, _SM_WHY),
    "sm_training:ml.c5.2xlarge": Price(0.461, "USD per instance-hour", _SM, _SM_WHY),
    "sm_training:ml.c5.xlarge": Price(0.230, "USD per instance-hour", _SM, _SM_WHY),
    "sm_transform:ml.m5.large": Price(0.128, "USD per instance-hour", _SM, _SM_WHY),
    "sm_transform:ml.m5.xlarge": Price(0.256, "USD per instance-hour", _SM, _SM_WHY),
    "sm_serverless_gb_s": Price(
        0.0000224,
        "USD per GB-second of inference",
        _SM,
        "assumed: us-east-1 is 0.0000200 per second per GB; eu-west-1 "
        "taken ~12% higher like the instance rates",
    ),
    "sm_serverless_data_gb": Price(
        0.016, "USD per GB in + out", _SM, "assumed: us-east-1 figure; " + _SMALL
    ),
    "fs_write_unit": Price(
        1.25 / 1e6, "USD per write request unit (1 KB)", _SM, "assumed: us-east-1 figure; " + _SMALL
    ),
    "fs_read_unit": Price(
        0.25 / 1e6, "USD per read request unit (4 KB)", _SM, "assumed: us-east-1 figure; " + _SMALL
    ),
    "fs_online_gb_month": Price(
        0.45,
        "USD per GB-month (standard online store)",
        _SM,
        "assumed: us-east-1 figure; " + _SMALL,
    ),
    # DynamoDB on demand (standard table class)
    "ddb_wru": Price(0.70675 / 1e6, "USD per write request unit", _DDB, _DDB_FOUND),
    "ddb_rru": Price(0.1415 / 1e6, "USD per read request unit", _DDB, _DDB_FOUND),
    "ddb_gb_month": Price(
        0.283, "USD per GB-month", _DDB, "found: eu-west-1 storage on the page quoted above"
    ),
    "ddb_pitr_gb_month": Price(
        0.226,
        "USD per GB-month of continuous backup",
        _DDB,
        "assumed: eu-west-1 rate as recalled (us-east-1 0.20); " + _SMALL,
    ),
    # S3 standard
    "s3_gb_month": Price(
        0.023,
        "USD per GB-month",
        "https://aws.amazon.com/s3/pricing/",
        "assumed: eu-west-1 first-50-TB rate as recalled; " + _SMALL,
    ),
    "s3_put": Price(
        0.005 / 1000,
        "USD per PUT/COPY/POST/LIST",
        "https://aws.amazon.com/s3/pricing/",
        "assumed: as recalled; " + _SMALL,
    ),
    "s3_get": Price(
        0.0004 / 1000,
        "USD per GET",
        "https://aws.amazon.com/s3/pricing/",
        "assumed: as recalled; " + _SMALL,
    ),
    # CloudWatch
    "cw_metric_month": Price(
        0.30,
        "USD per custom metric-month (prorated hourly)",
        _CW,
        "found: 0.30 for the first 10,000 metrics (signoz.io/guides/cloudwatch-pricing); "
        "same in eu-west-1",
    ),
    "cw_alarm_month": Price(
        0.10,
        "USD per standard-resolution alarm metric-month",
        _CW,
        "assumed: standard rate; same in eu-west-1",
    ),
    "cw_dashboard_month": Price(
        3.00,
        "USD per dashboard-month",
        _CW,
        "found: 3 USD per dashboard (factualminds.com CloudWatch pricing)",
    ),
    "cw_put_metric_request": Price(
        0.01 / 1000, "USD per PutMetricData request", _CW, "assumed: standard API rate; " + _SMALL
    ),
    "cw_logs_ingest_gb": Price(
        0.57,
        "USD per GB ingested (standard log class)",
        _CW,
        "assumed: us-east-1 is 0.50 (c3x.dev); eu-west-1 0.57 as recalled",
    ),
    "cw_logs_store_gb_month": Price(
        0.03,
        "USD per GB-month archived",
        _CW,
        "found: 0.03 (c3x.dev, us-east-1); eu-west-1 assumed equal",
    ),
    # Security and messaging
    "kms_key_month": Price(
        1.00,
        "USD per customer managed key-month",
        "https://aws.amazon.com/kms/pricing/",
        "found: 1 USD/month per key in every region; each automatic rotation "
        "adds 1 USD/month (not counted: year one has none)",
    ),
    "kms_request": Price(
        0.03 / 10000,
        "USD per request",
        "https://aws.amazon.com/kms/pricing/",
        "found: 0.03 per 10,000 symmetric requests",
    ),
    "secret_month": Price(
        0.40,
        "USD per secret-month",
        "https://aws.amazon.com/secrets-manager/pricing/",
        "found: 0.40 per secret, 0.05 per 10,000 calls (hivebook.wiki quoting the page)",
    ),
    "secret_call": Price(
        0.05 / 10000,
        "USD per API call",
        "https://aws.amazon.com/secrets-manager/pricing/",
        "found: as above",
    ),
    "sns_publish": Price(
        0.50 / 1e6,
        "USD per publish",
        "https://aws.amazon.com/sns/pricing/",
        "assumed: standard-topic rate; " + _SMALL,
    ),
    "sns_email": Price(
        2.00 / 100000,
        "USD per e-mail delivery",
        "https://aws.amazon.com/sns/pricing/",
        "assumed: standard rate; " + _SMALL,
    ),
    "sqs_request": Price(
        0.40 / 1e6,
        "USD per request",
        "https://aws.amazon.com/sqs/pricing/",
        "assumed: standard-queue rate; the dead-letter queues stay empty",
    ),
    "scheduler_invocation": Price(
        1.00 / 1e6,
        "USD per scheduled invocation",
        "https://aws.amazon.com/eventbridge/pricing/",
        "found: 1.00 per million after the (uncounted) 14M free "
        "(cloudburn.io/blog/amazon-eventbridge-pricing)",
    ),
    "eventbridge_aws_event": Price(
        0.0,
        "USD per AWS service event on the default bus",
        "https://aws.amazon.com/eventbridge/pricing/",
        "found: AWS service events are free (wring.co EventBridge guide)",
    ),
    "http_api_request": Price(
        1.11 / 1e6,
        "USD per HTTP API request",
        "https://aws.amazon.com/api-gateway/pricing/",
        "assumed: us-east-1 is 1.00 per million (AWS whitepaper); eu-west-1 1.11 as recalled",
    ),
    "xray_trace": Price(
        5.00 / 1e6,
        "USD per trace recorded",
        "https://aws.amazon.com/xray/pricing/",
        "found: 5 USD per million recorded, 0.50 per million retrieved",
    ),
    "ssm_standard_parameter": Price(
        0.0,
        "USD per standard parameter",
        "https://aws.amazon.com/systems-manager/pricing/",
        "assumed: standard parameters and standard throughput are free",
    ),
    # The seed system's services (comparison only)
    "fargate_arm_vcpu_h": Price(
        0.0356,
        "USD per vCPU-hour (Linux/ARM)",
        "https://aws.amazon.com/fargate/pricing/",
        "assumed: us-east-1 is 0.03238 (vantage.sh/blog/fargate-pricing); eu-west-1 ~10% higher",
    ),
    "fargate_arm_gb_h": Price(
        0.0039,
        "USD per GB-hour (Linux/ARM)",
        "https://aws.amazon.com/fargate/pricing/",
        "assumed: us-east-1 is 0.00356 (same page); eu-west-1 ~10% higher",
    ),
    "public_ipv4_h": Price(
        0.005,
        "USD per public IPv4 address-hour",
        "https://aws.amazon.com/vpc/pricing/",
        "assumed: the same in every region",
    ),
    "flink_kpu_h": Price(
        0.11,
        "USD per KPU-hour",
        "https://aws.amazon.com/managed-service-apache-flink/pricing/",
        "assumed: us-east-1 rate as recalled; one extra KPU per application "
        "(docs.aws.amazon.com/managed-flink/latest/java/how-pricing.html)",
    ),
    "flink_storage_gb_month": Price(
        0.10,
        "USD per GB-month (50 GB per KPU)",
        "https://aws.amazon.com/managed-service-apache-flink/pricing/",
        "assumed: as recalled",
    ),
    "kinesis_shard_h": Price(
        0.015,
        "USD per shard-hour (provisioned)",
        "https://aws.amazon.com/kinesis/data-streams/pricing/",
        "assumed: as recalled",
    ),
    "eventbridge_custom_event": Price(
        1.00 / 1e6,
        "USD per custom event",
        "https://aws.amazon.com/eventbridge/pricing/",
        "found: 1.00 per million (wring.co EventBridge guide)",
    ),
}


def price(key: str) -> float:
    try:
        return PRICES[key].usd
    except KeyError:
        raise KeyError(f"no {REGION} price for {key!r}: add it to PRICES with its source") from None
