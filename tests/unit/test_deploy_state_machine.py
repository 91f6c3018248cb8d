"""The ModelDeploy ASL: readable, every task retried and caught, every substitution provided."""

from __future__ import annotations

import json
import re
from pathlib import Path

from feecast_twin.intrinsics import load_yaml

ROOT = Path(__file__).resolve().parents[2]
ASL_TEXT = (ROOT / "statemachines" / "model_deploy.asl.json").read_text()
ASL = json.loads(ASL_TEXT)


def _next_states(state: dict) -> set[str]:
    out = {state.get("Next"), state.get("Default")}
    out |= {c.get("Next") for c in state.get("Choices", [])}
    out |= {c.get("Next") for c in state.get("Catch", [])}
    return {s for s in out if s}


def test_every_state_is_reachable_and_every_target_exists() -> None:
    states = ASL["States"]
    seen, todo = set(), [ASL["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        assert name in states, f"missing state {name}"
        seen.add(name)
        todo += _next_states(states[name])
    assert seen == set(states)


def test_every_task_retries_transient_errors_and_catches_the_rest() -> None:
    for name, state in ASL["States"].items():
        if state["Type"] != "Task":
            continue
        # the events:putEvents task retries EventBridge's errors; the others are Lambda tasks
        transient = (
            "EventBridge.FailedEntry"
            if state["Resource"] == "arn:aws:states:::events:putEvents"
            else "Lambda.ServiceException"
        )
        assert any(transient in r["ErrorEquals"] for r in state["Retry"]), name
        assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), name


def test_waits_have_timeouts_and_the_approval_timeout_ends_cleanly() -> None:
    for name in (
        "Wait For Staging",
        "Wait For Production",
        "Ask A Person To Approve",
        "Wait For The Rollback",
    ):
        state = ASL["States"][name]
        assert state["Resource"].endswith(".waitForTaskToken") and "TimeoutSecondsPath" in state
    ask = ASL["States"]["Ask A Person To Approve"]
    assert ask["Catch"][0]["ErrorEquals"] == ["States.Timeout"]
    assert ASL["States"]["Deployment Rejected"]["Type"] == "Succeed"
    assert ASL["States"]["Approval Timed Out"]["Type"] == "Fail"


def test_every_substitution_is_provided_by_the_template() -> None:
    template = load_yaml((ROOT / "template.yaml").read_text())
    machine = template["Resources"]["ModelDeployStateMachine"]["Properties"]
    used = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))
    assert used == set(machine["DefinitionSubstitutions"])
    assert machine["DefinitionUri"] == "statemachines/model_deploy.asl.json"
