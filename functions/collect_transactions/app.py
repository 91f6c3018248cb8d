"""Collect Transactions (every minute, EventBridge Scheduler): poll -> count -> close minutes.

template.yaml CollectTransactionsFunction -> feecast.ingest.collect_transactions.collect
-> feecast.ingest.pipeline.run_ingest (the same pipeline `feecast ingest replay` uses).
"Now" is the scheduled time from the Scheduler's input, so a run can be replayed exactly.
"""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from feecast.adapters.feature_store import FeatureStoreSink
from feecast.adapters.ingest_table import DynamoIngestStore
from feecast.ingest.collect_transactions import ScheduledRun, collect_transactions
from feecast.ingest.settings import CollectorSettings
from feecast.observability import logger, metrics, tracer
from feecast.settings import load_settings

SETTINGS = load_settings(CollectorSettings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = parse(event=event, model=ScheduledRun)
    return collect_transactions(
        run,
        SETTINGS,
        store=DynamoIngestStore(SETTINGS.ingest_table),
        sink=FeatureStoreSink(SETTINGS.feature_group_name),
        remaining=lambda: context.get_remaining_time_in_millis() / 1000,
        metrics=metrics,
    ).model_dump(mode="json")
