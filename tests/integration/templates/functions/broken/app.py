"""Test function of the twin's own template: its import fails (an init error, as on Lambda)."""

import a_module_that_does_not_exist  # noqa: F401


def lambda_handler(event, context):  # pragma: no cover - never reached
    return {}
