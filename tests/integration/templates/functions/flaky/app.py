"""Test function: raises a named error on demand (Step Functions Catch matches its class name)."""


class ModelNotReadyError(Exception):
    pass


def lambda_handler(event, context):
    if event.get("should_fail"):
        raise ModelNotReadyError(f"not ready: {event.get('why', 'asked to fail')}")
    return {"ok": True}
