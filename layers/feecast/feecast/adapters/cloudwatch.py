"""CloudWatch alarms the deploy stage reads (the rollback alarms of a guarded update)."""

from __future__ import annotations

from feecast.adapters import clients
from feecast.adapters.errors import aws_errors


class CloudWatchAlarms:
    def existing(self, names: list[str]) -> list[str]:
        """Those of `names` that exist, in the given order."""
        if not names:
            return []
        with aws_errors():
            found = (
                clients.client("cloudwatch")
                .describe_alarms(AlarmNames=names)
                .get("MetricAlarms", [])
            )
        present = {a["AlarmName"] for a in found}
        return [n for n in names if n in present]
