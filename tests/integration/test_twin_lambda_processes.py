"""The twin runs Lambda functions as Lambda does: one process per execution environment, warm
between invocations, its own environment and module state, its Timeout enforced, replaced after
a crash. The functions are tests/integration/templates/functions/{probe,broken}."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.twin(template="tests/integration/templates/core.yaml")


def lambda_records(twin: Any, function: str) -> list[Any]:
    return [r for r in twin.records_of("lambda") if r["function"] == function]


def test_given_two_functions_of_one_code_folder_then_each_has_its_own_process_and_globals(
    twin: Any,
) -> None:
    set_here = twin.invoke("ProbeFunction", {"action": "set", "value": "only in ProbeFunction"})
    other = twin.invoke("SlowProbeFunction", {"action": "get"})
    again = twin.invoke("ProbeFunction", {"action": "get"})

    assert other["value"] is None  # the module-level change did not reach the other function
    assert again["value"] == "only in ProbeFunction"  # warm: the same environment kept it
    assert set_here["pid"] == again["pid"] != other["pid"]
    assert (set_here["marker"], other["marker"]) == ("probe", "slow")
    assert set_here["cwd"].endswith("functions/probe")  # LAMBDA_TASK_ROOT
    # Product code sees the SDK's standard endpoint variable and nothing of the twin's own.
    assert set_here["endpoint"] == twin.endpoint_url and set_here["twin_variables"] == []
    cold = [r["cold_start"] for r in lambda_records(twin, "ProbeFunction")]
    assert cold == [True, False]


def test_given_a_handler_past_its_timeout_then_it_is_killed_and_reported_as_lambda_does(
    twin: Any,
) -> None:
    from feecast_twin.core import TwinInvokeError

    first = twin.invoke("SlowProbeFunction", {"action": "get"})
    with pytest.raises(TwinInvokeError) as caught:
        twin.invoke("SlowProbeFunction", {"action": "sleep", "seconds": 30})  # Timeout: 2
    assert caught.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in caught.value.message
    [timed_out] = [r for r in lambda_records(twin, "SlowProbeFunction") if r["timed_out"]]
    assert timed_out["duration_ms"] < 15_000  # killed, not waited for
    logs = twin.lambda_logs("SlowProbeFunction")[-1]
    assert "sleeping 30s" in logs and "Task timed out after 2.00 seconds" in logs

    # The killed environment is replaced: the next invocation is a cold start elsewhere.
    after = twin.invoke("SlowProbeFunction", {"action": "get"})
    assert after["pid"] != first["pid"] and after["value"] is None
    assert lambda_records(twin, "SlowProbeFunction")[-1]["cold_start"] is True


def test_given_a_process_that_exits_mid_invocation_then_lambda_reports_the_runtime_exit(
    twin: Any,
) -> None:
    from feecast_twin.core import TwinInvokeError

    before = twin.invoke("ProbeFunction", {"action": "set", "value": 1})
    with pytest.raises(TwinInvokeError) as caught:
        twin.invoke("ProbeFunction", {"action": "exit", "code": 3})
    assert caught.value.error_type == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in caught.value.message
    after = twin.invoke("ProbeFunction", {"action": "get"})
    assert after["pid"] != before["pid"] and after["value"] is None


def test_given_a_module_that_cannot_be_imported_then_the_init_error_is_reported(
    twin: Any,
) -> None:
    from feecast_twin.core import TwinInvokeError

    for _ in range(2):  # each invocation retries the init, as Lambda does after an init error
        with pytest.raises(TwinInvokeError) as caught:
            twin.invoke("BrokenFunction", {})
        assert caught.value.error_type == "Runtime.ImportModuleError"
        assert "Unable to import module 'app'" in caught.value.message
    assert [r["cold_start"] for r in lambda_records(twin, "BrokenFunction")] == [True, True]


def test_given_concurrent_invocations_then_each_gets_its_own_environment(twin: Any) -> None:
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(3)

    def call() -> None:
        barrier.wait()
        results.append(twin.invoke("ProbeFunction", {"action": "sleep", "seconds": 1}))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 3
    assert len({r["pid"] for r in results}) == 3  # run in parallel, as Lambda scales out


def test_given_a_configuration_change_then_new_invocations_get_a_new_environment(
    twin: Any,
) -> None:
    name = twin.physical_id("ProbeFunction")
    first = twin.invoke("ProbeFunction", {"action": "get"})
    variables = twin.client("lambda").get_function_configuration(FunctionName=name)["Environment"][
        "Variables"
    ]
    twin.client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "MARKER": "changed"}}
    )
    after = twin.invoke("ProbeFunction", {"action": "get"})
    assert after["marker"] == "changed" and after["pid"] != first["pid"]


def test_given_the_twin_clock_jumps_then_every_worker_sees_the_new_time(twin: Any) -> None:
    from datetime import datetime

    before = twin.invoke("ProbeFunction", {"action": "get"})
    twin.clock.jump(timedelta(days=3))
    after = twin.invoke("ProbeFunction", {"action": "get"})  # the same warm process
    assert after["pid"] == before["pid"]
    moved = datetime.fromisoformat(after["now"]) - datetime.fromisoformat(before["now"])
    assert timedelta(days=3) <= moved < timedelta(days=3, minutes=5)
    assert abs(datetime.fromisoformat(after["now"]) - twin.clock.now()) < timedelta(minutes=1)
    # The context's remaining time counts on the same clock as Lambda's deadline.
    assert 0 < after["remaining_ms"] <= 30_000
