"""Test function of the twin's own template: shows what its execution environment is.

Two functions share this code (ProbeFunction, SlowProbeFunction): each must get its own process,
module globals, environment and working directory, as on Lambda.
"""

import os
import sys
import time
from datetime import UTC, datetime

STATE = {"value": None}  # module-level: lives as long as the execution environment
LOADED_AT = time.time()


def lambda_handler(event, context):
    action = event.get("action")
    if action == "set":
        STATE["value"] = event["value"]
    elif action == "sleep":
        print(f"sleeping {event['seconds']}s", flush=True)
        time.sleep(float(event["seconds"]))
    elif action == "exit":
        print("exiting", flush=True)
        os._exit(int(event.get("code", 3)))
    return {
        "value": STATE["value"],
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "marker": os.environ.get("MARKER"),
        "twin_variables": sorted(k for k in os.environ if k.startswith("FEECAST_TWIN")),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL", ""),
        "feecast_modules": sorted(
            m for m in sys.modules if m == "feecast" or m.startswith("feecast.")
        ),
        "now": datetime.now(UTC).isoformat(),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "loaded_at": LOADED_AT,
    }
