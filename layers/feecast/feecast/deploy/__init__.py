"""Deploy stage: approved package -> threshold -> staging -> smoke test -> approval -> production.

Pure policy modules (no AWS): names, trigger, endpoint_config, links, smoke, thresholds, history.
AWS adapters: aws. Use cases called by one handler each (or by the CLI): start, threshold_step,
endpoints, smoke_test, approvals, outcome, rollback.
"""
