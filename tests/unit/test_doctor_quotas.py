"""`feecast doctor`'s quota rules (pure): what the parameters need against Service Quotas."""

from __future__ import annotations

from feecast_cli.doctor import FAIL, OK, SERVERLESS_CONCURRENCY, WARN, quota_checks

DEFAULTS = {
    "EndpointType": "Serverless",
    "ServerlessMaxConcurrency": "5",
    "TrainingInstanceType": "ml.c5.2xlarge",
    "TransformInstanceType": "ml.m5.large",
    "EndpointInstanceType": "ml.m5.large",
    "UseSpotTraining": "true",
    "ProductionInstanceCount": "1",
}


def by_name(
    params: dict[str, str], quotas: dict[str, tuple[float, str]]
) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.detail) for c in quota_checks(params, quotas)}


def test_a_new_account_with_default_quotas_fails_where_a_first_run_would() -> None:
    """Spot training of ml.c5.2xlarge at 0, serverless concurrency 10 for 2 x 5: the first
    build fails, the two endpoints fit exactly."""
    quotas = {
        "ml.c5.2xlarge for spot training job usage": (0.0, "default"),
        "ml.m5.large for transform job usage": (1.0, "default"),
        SERVERLESS_CONCURRENCY: (10.0, "default"),
    }
    checks = by_name(DEFAULTS, quotas)
    assert checks["quota training"][0] == FAIL and "spot training" in checks["quota training"][1]
    assert checks["quota transform"][0] == OK
    assert checks["quota serverless"][0] == OK and ">= 10" in checks["quota serverless"][1]
    more = by_name({**DEFAULTS, "ServerlessMaxConcurrency": "6"}, quotas)
    assert more["quota serverless"][0] == FAIL and "< 12" in more["quota serverless"][1]


def test_on_demand_training_and_provisioned_endpoints_need_their_own_quotas() -> None:
    params = {
        **DEFAULTS,
        "UseSpotTraining": "false",
        "EndpointType": "Provisioned",
        "ProductionInstanceCount": "2",
    }
    quotas = {
        "ml.c5.2xlarge for training job usage": (2.0, "applied"),
        "ml.m5.large for transform job usage": (1.0, "default"),
        "ml.m5.large for endpoint usage": (2.0, "default"),
    }
    checks = by_name(params, quotas)
    assert checks["quota training"][0] == OK
    assert (
        checks["quota endpoints"][0] == FAIL
        and "production 2 + staging 1" in checks["quota endpoints"][1]
    )
    assert "quota serverless" not in checks


def test_a_region_without_the_serverless_quota_is_a_warning_naming_the_fallback() -> None:
    checks = by_name(DEFAULTS, {})
    assert checks["quota serverless"][0] == WARN
    assert "EndpointType=Provisioned" in checks["quota serverless"][1]
