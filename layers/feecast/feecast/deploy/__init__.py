"""Deploy stage: approved package -> threshold -> staging -> smoke test -> approval -> production.

Step modules, one per function, named like it (functions/<x>/app.py -> deploy/<x>.py): start_deploy,
update_threshold, deploy_endpoint, await_endpoint, resume_endpoint_waiter, smoke_test,
request_approval, approval_callback, record_deployment, report_outcome, teardown_endpoint,
on_package_rejected. They share: approvals (the approval record and decision), outcome (what a
stage serves), rollback (also `feecast rollback`).
Pure rules (no AWS, no ports): names, trigger, endpoint_config, links, smoke, thresholds, history.
Ports (what the stage needs from AWS): ports; their real adapters live in feecast/adapters.
"""
