"""TeardownEndpointFunction: step "Tear Down Staging" (configs and models stay)."""

from __future__ import annotations

from pydantic import BaseModel

from feecast.deploy.ports import Endpoints


class Teardown(BaseModel):
    endpoint_name: str
    action: str  # deleted | absent


def teardown_endpoint(endpoint_name: str, *, endpoints: Endpoints) -> Teardown:
    """Delete an endpoint (configs and models stay, so a redeploy is quick)."""
    current = endpoints.describe_endpoint(endpoint_name)
    if current is None:
        return Teardown(endpoint_name=endpoint_name, action="absent")
    endpoints.delete_endpoint(endpoint_name)
    return Teardown(endpoint_name=endpoint_name, action="deleted")
