"""What the build stage needs from AWS, as small interfaces (ports), as in feecast.deploy.ports.

| port | real adapter |
| --- | --- |
| ArtifactStore | feecast.adapters.s3.S3Store |
| BuildState | feecast.adapters.state_table.StateTable (the StateRecords port of feecast/ports.py) |
| BuildExecutions | feecast.adapters.stepfunctions.StepFunctionsExecutions |
| ModelPackages | feecast.adapters.sagemaker.SageMakerPackages |

start_build's guards (feecast.build.start_build.BuildBackend) run on BuildState and BuildExecutions
through `TableBuildBackend`; the handlers wire the real adapters, unit tests pass fakes.
"""

from __future__ import annotations

from typing import Any, Protocol

from feecast.ports import StateRecords

__all__ = ["ArtifactStore", "BuildExecutions", "BuildState", "ModelPackages"]


class ArtifactStore(Protocol):
    bucket: str

    def put_text(self, key: str, text: str, content_type: str = "application/json") -> str:
        """Write `text` at `key`; returns its s3:// URI."""
        ...

    def get_text(self, key: str) -> str:
        """The object's text; NotFound (feecast.adapters.errors) when the key does not exist."""
        ...


class BuildState(StateRecords, Protocol):
    """The StateTable records of the build stage (BUILD#<dedup key>, BUILD#LOCK)."""


class BuildExecutions(Protocol):
    """Executions of the ModelBuild state machine; `start` answers (ARN, newly started)."""

    def start(
        self, state_machine_arn: str, name: str, payload: dict[str, Any]
    ) -> tuple[str, bool]: ...
    def running(self, state_machine_arn: str) -> list[tuple[str, str]]: ...
    def status(self, execution_arn: str) -> str | None: ...


class ModelPackages(Protocol):
    """The model registry: `find` answers None for a package that no longer exists."""

    def find(self, arn: str) -> dict[str, Any] | None: ...
