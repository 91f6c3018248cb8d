"""feecast_twin: the local twin of the feecast stack (moto in-process + real handlers + clock).

Public API (docs/local-twin.md): Twin, TwinInvokeError, DeliveryReport, TwinRecord, Component.
"""

from feecast_twin.components import Component
from feecast_twin.core import Twin, TwinInvokeError, TwinRecord
from feecast_twin.events import DeliveryReport, TargetRun

__all__ = ["Component", "DeliveryReport", "TargetRun", "Twin", "TwinInvokeError", "TwinRecord"]
