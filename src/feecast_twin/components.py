"""The extension point of the twin: a Component adds an AWS behaviour moto lacks.

CORE (feecast_twin.core.Twin) owns moto, the clock, the Lambda runtime and EventBridge delivery.
Other parts (SageMaker jobs and endpoints, Feature Store, alarm evaluation) plug in as
Components: `Twin.deploy()` builds each one with `Component(twin)`, then calls `install()` once
the mock is active and the template's resources exist; `Twin.close()` calls `uninstall()`.

At each clock step `Twin.advance()` calls `on_tick(now)` on every component, and `Twin.settle()`
waits while any component reports `busy()`.

What a component may use of the twin is `feecast_twin.host.Host` (the component's `twin`):
    twin.record(kind, **fields)           append to the timeline (twin.records)
    twin.emit_event(source=..., detail_type=..., detail=..., resources=[...])
                                          put an event on the default bus as an AWS service would;
                                          delivered to matching rules (Lambda / Step Functions targets)
    twin.clock.now()                      the twin's "now" (UTC)
    twin.client(service)                  a boto3 client on the twin
    twin.region, twin.account_id, twin.physical_id(logical_id), twin.logical_id_of(physical)
    twin.worker_environment()             what a process the component starts needs (clock, endpoint)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feecast_twin.host import Host


class Component:
    """Base class of a twin component; override what you need (all methods have safe defaults)."""

    #: Short name used in logs and in `twin.components` (e.g. "sagemaker").
    name: str = "component"

    def __init__(self, twin: Host) -> None:
        self.twin = twin

    def install(self, twin: Host) -> None:
        """Patch moto (called once by Twin.deploy(), with the mock active and resources created)."""

    def uninstall(self) -> None:
        """Undo every patch made by install() (called by Twin.close(), also after a failed deploy)."""

    def on_tick(self, now: datetime) -> None:
        """React to one clock step (endpoint transitions, alarm evaluation). `now` is UTC."""

    def busy(self) -> bool:
        """True while work is in flight (a job running, an endpoint changing); settle() waits."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
