"""The model build stage: what the ModelBuild state machine's functions call (one call each).

- prepare.prepare_data: feature store history -> DeepAR channels, transform input, actuals
- evaluate.evaluate_model: batch forecast + held-out minutes -> evaluation.json + gate decision
- register.register_model: evaluation -> model package (PendingManualApproval) with lineage
- failure.report_failure: a caught error -> a readable notification
- start.start_build: the single way to start a build (schedule, alarm, `feecast build`)
"""
