"""Step "Smoke Test Staging": ask the staging endpoint for a forecast and check the answer.

The context is the most recent minutes of the feature group when it holds at least the model's
context length of observed minutes; otherwise (a fresh install, or the offline store lagging)
a synthetic fee-like series, and the result says which was used.

An endpoint whose container does not answer (ModelError, a timeout, the runtime refusing) fails
the step with `EndpointDidNotAnswer`, saying what answered and what to do: built-in DeepAR on
Serverless Inference (the default EndpointType) has no AWS example, so when the container does
not answer there the advice is the one-parameter fallback, EndpointType=Provisioned
(docs/aws-first-run.md). Throttling is left to the state's Retry (AwsThrottled).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from feecast.adapters.errors import NoAnswer
from feecast.deepar import inference_request
from feecast.deploy import smoke
from feecast.deploy.errors import retry_throttling
from feecast.deploy.settings import SmokeSettings
from feecast.observability import logger
from feecast.ports import Forecaster, Parameters, RecentMinutes
from feecast.series import MINUTE, MinuteSeries, floor_minute


def _context(
    settings: SmokeSettings,
    needed: int,
    now: datetime,
    parameters: Parameters,
    history: RecentMinutes,
) -> tuple[MinuteSeries, str]:
    config = parameters.load_config(settings.ssm_prefix)
    end = floor_minute(now)
    start = end - 4 * needed * MINUTE
    try:
        series = history.read_minutes(
            settings.feature_group_name, start, end, config.target.target_col
        )
    except Exception as exc:  # an unreadable store must not block checking the endpoint
        logger.warning(
            "recent minutes unreadable, using a synthetic context", extra={"error": str(exc)}
        )
        return smoke.synthetic_context(end, needed), "synthetic"
    if series.observed_count < needed:
        logger.info(
            "too few recent minutes, using a synthetic context",
            extra={"observed": series.observed_count, "needed": needed},
        )
        return smoke.synthetic_context(end, needed), "synthetic"
    return series, "feature_store"


class EndpointDidNotAnswer(RuntimeError):
    """The staging endpoint exists but its container gave no forecast (the step's error name)."""


def _did_not_answer(endpoint_name: str, endpoint_type: str, what: str) -> EndpointDidNotAnswer:
    advice = (
        " Built-in DeepAR on Serverless Inference is not verified by an AWS example: if its "
        "container cannot start or answer there, redeploy the stack with "
        "EndpointType=Provisioned (one parameter; docs/aws-first-run.md, Serverless or "
        "Provisioned), then approve the package again."
        if endpoint_type == "Serverless"
        else " Look at the endpoint's logs (/aws/sagemaker/Endpoints/" + endpoint_name + ")."
    )
    kind = f"{endpoint_type} endpoint" if endpoint_type else "endpoint"
    return EndpointDidNotAnswer(
        f"{kind} {endpoint_name} did not answer the smoke test's DeepAR request: {what}.{advice}"
    )


class SmokeRequest(BaseModel):
    """The step's input: which endpoint to try."""

    endpoint_name: str


@retry_throttling
def smoke_test(
    endpoint_name: str,
    settings: SmokeSettings,
    *,
    forecaster: Forecaster,
    parameters: Parameters,
    history: RecentMinutes,
) -> smoke.SmokeReport:
    config = parameters.load_config(settings.ssm_prefix)
    prediction_length = config.target.prediction_length
    needed = max(
        config.hyperparameters.effective_context_length(prediction_length), prediction_length
    )
    context, source = _context(settings, needed, datetime.now(UTC), parameters, history)
    quantiles = list(config.validation.quantiles)
    request = inference_request(
        [context], num_samples=config.hyperparameters.num_eval_samples, quantiles=quantiles
    )
    try:  # a throttle is AwsThrottled, left to the state's Retry
        body = forecaster.invoke(endpoint_name, request)
    except NoAnswer as exc:
        raise _did_not_answer(endpoint_name, settings.endpoint_type, str(exc)) from exc
    forecast = smoke.check_forecast(body, prediction_length=prediction_length, quantiles=quantiles)
    report = smoke.SmokeReport(
        prediction_length=prediction_length,
        quantiles=quantiles,
        context_source=source,
        context_points=len(context),
        mean_first=float(forecast.mean[0]),
        mean_last=float(forecast.mean[-1]),
    )
    logger.info("smoke test passed", extra=report.to_dict())
    return report
