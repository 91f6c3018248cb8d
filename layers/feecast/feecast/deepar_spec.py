"""The plain facts of SageMaker DeepAR's contract, without numpy.

feecast.config (imported by every function that reads its SSM configuration) needs these; the
series formats in feecast.deepar need numpy. Keeping them apart lets the functions that only
route events start without importing numpy (bench/bench_functions.py). feecast.deepar
re-exports both names.
"""

from __future__ import annotations

import sys
from decimal import Decimal

__all__ = ["DEEPAR_MIN_OBSERVATIONS", "quantile_key"]

DEEPAR_MIN_OBSERVATIONS = 300


def _is_numpy_float(q: object) -> bool:
    # A numpy scalar can only exist once numpy is imported: no need to import it here.
    np = sys.modules.get("numpy")
    return np is not None and isinstance(q, np.floating)


def quantile_key(q: float | str) -> str:
    """The canonical string for a quantile level: 0.5 -> "0.5", "0.050" -> "0.05".

    DeepAR and our configs use quantile levels as dict keys; one spelling avoids "0.1" and
    "0.10" being two different quantiles.
    """
    if isinstance(q, bool) or not (isinstance(q, str | int | float) or _is_numpy_float(q)):
        raise ValueError(f"quantile {q!r} must be a number or a numeric string")
    try:
        level = float(q)
    except ValueError:
        raise ValueError(f"quantile {q!r} is not a number") from None
    if not (0.0 < level < 1.0):  # also rejects NaN
        raise ValueError(f"quantile {q!r} must be strictly between 0 and 1")
    # 12 significant digits hide float noise such as 0.30000000000000004; "f" avoids "1e-05".
    return format(Decimal(f"{level:.12g}").normalize(), "f")
