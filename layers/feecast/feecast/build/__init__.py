"""The model build stage: what the ModelBuild state machine's functions call (one call each).

- prepare.prepare_data: feature store history -> DeepAR channels, backtest transform input,
  the model in production to compare with (production.py)
- evaluate.evaluate_model: backtest forecasts -> every model scored on the same windows ->
  evaluation.json + gate decision + the model's alarm threshold
- register.register_model: evaluation -> model package (PendingManualApproval) with lineage
- failure.report_failure: a caught error -> a readable notification
- start.start_build: the single way to start a build (schedule, alarm, `feecast build`)
"""
