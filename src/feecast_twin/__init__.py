"""feecast_twin: the local twin of the feecast stack (moto + real handlers in Lambda worker
processes + SageMaker containers as processes + one clock).

Public API (docs/local-twin.md): Twin, TwinInvokeError, DeliveryReport, TwinRecord, Component.
Imported lazily: the processes the twin starts import `feecast_twin.procs` only, and must not
pay for moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feecast_twin.components import Component
    from feecast_twin.core import Twin, TwinInvokeError, TwinRecord
    from feecast_twin.events import DeliveryReport, TargetRun

_EXPORTS = {
    "Component": "feecast_twin.components",
    "Twin": "feecast_twin.core",
    "TwinInvokeError": "feecast_twin.core",
    "TwinRecord": "feecast_twin.core",
    "DeliveryReport": "feecast_twin.events",
    "TargetRun": "feecast_twin.events",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'feecast_twin' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["Component", "DeliveryReport", "TargetRun", "Twin", "TwinInvokeError", "TwinRecord"]
