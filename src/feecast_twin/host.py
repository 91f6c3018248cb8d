"""What the twin's parts use of the twin: small interfaces, so that no part depends on the whole
`Twin` (feecast_twin.core), and core is the only module that knows them all.

- `Recorder`: append to the timeline (faults, the Lambda runtime).
- `Host`: the region and account, the clock, boto3 clients on the twin, the timeline, putting an
  event on the bus as an AWS service does, following the timeline, logical <-> physical ids, and the environment every
  process the twin starts needs (components, the loader, EventBridge delivery).
- `LambdaRunner`: run a function as moto would (EventBridge delivery's asynchronous targets).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol


class Recorder(Protocol):
    def record(self, kind: str, /, **fields: Any) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class Host(Recorder, Protocol):
    region: str
    account_id: str

    @property
    def clock(self) -> Clock: ...

    def client(self, service: str) -> Any: ...

    def subscribe(self, callback: Callable[[Any], Any]) -> Callable[[], None]: ...

    def emit_event(
        self,
        *,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: list[str] | None = None,
        time: datetime | None = None,
        wait: bool = False,
        timeout: float = 600,
    ) -> Any: ...

    def logical_id_of(self, physical: str) -> str: ...

    def physical_id(self, logical_id: str) -> Any: ...

    def worker_environment(self) -> dict[str, str]: ...


class LambdaRunner(Protocol):
    def run(self, fn: Any, event: Any) -> tuple[str, bool, str]: ...


__all__ = ["Clock", "Host", "LambdaRunner", "Recorder"]
