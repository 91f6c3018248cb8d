"""Deploy stage: approved package -> threshold -> staging -> smoke test -> approval -> production.

Pure policy modules (no AWS): names, trigger, endpoint_config, links, smoke, thresholds, history.
Ports (what the stage needs from AWS): ports; their real adapters live in feecast/adapters.
Use cases called by one handler each (or by the CLI), given their ports: start,
threshold_step, endpoints, smoke_test, approvals, outcome, rollback.
"""
