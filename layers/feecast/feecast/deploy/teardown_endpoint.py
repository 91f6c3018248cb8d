"""TeardownEndpointFunction: step "Tear Down Staging" (configs and models stay)."""

from __future__ import annotations

from feecast.deploy.ports import Endpoints


def teardown_endpoint(endpoint_name: str, *, endpoints: Endpoints) -> dict[str, str]:
    """Delete an endpoint (configs and models stay, so a redeploy is quick)."""
    current = endpoints.describe_endpoint(endpoint_name)
    if current is None:
        return {"endpoint_name": endpoint_name, "action": "absent"}
    endpoints.delete_endpoint(endpoint_name)
    return {"endpoint_name": endpoint_name, "action": "deleted"}
