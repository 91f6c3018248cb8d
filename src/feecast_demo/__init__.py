"""`feecast local demo`: the whole lifecycle on the twin, shown as it happens, with a report.

- scenario.py: the phases (ingest history -> build -> approvals -> production -> monitoring ->
  drift -> alarm -> one rebuild -> redeploy -> recovery), driven through the operator CLI and
  the twin's clock, checked from the twin's records and AWS APIs;
- timeline.py: prints the twin's records as they happen, with the simulated time;
- report.py: summary.json, summary.md, forecast.png, monitoring.png;
- feed.py: the synthetic transaction stream served over HTTP in blockchain.info's format,
  relative to the twin clock, for the scheduled collector;
- cli.py: the `demo` subcommand's options.
"""
