"""Shared fixtures: the repository, events/*.json, and the local twin.

def test_x(twin, load_event):                  # the repository's template.yaml, deployed
    report = twin.send_event(load_event("retrain-accuracy-alarm.json"))

@pytest.mark.twin(template="tests/integration/templates/core.yaml", overrides={...})
def test_y(twin): ...                          # a small template of your own

def test_z(make_twin):                         # several configurations in one test
    twin = make_twin(parameter_overrides={"EndpointType": "Serverless"})

def test_w(twin, serve_stage, model_tar):      # a stage's endpoint serving a given model
    serve_stage(twin, model_tar, "staging")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# No per-example time limit: a timing is a benchmark (bench/), and hypothesis' default 200 ms
# deadline failed tests/unit/test_metrics.py on a loaded 2-core machine (686 ms). Seeded, so a
# failure repeats.
settings.register_profile("feecast", deadline=None, derandomize=True)
settings.load_profile("feecast")

REPO_ROOT = Path(__file__).resolve().parents[1]

# Parameter overrides that keep real-time waits short in tests (applied only to parameters the
# template declares, so the fixture keeps working while the template grows).
FAST_OVERRIDES: dict[str, str] = {
    # The twin's clock runs in real time between jumps, so this is wall time too: 20 s was hit
    # by the serve test on a loaded machine (two CLI subprocesses between "Ask A Person To
    # Approve" and the answer) and ended its deployment ApprovalTimedOut. A test of the
    # timeout sets its own (test_deploy_twin: 3 s).
    "ApprovalTimeoutSeconds": "3600",
    "GuardrailBakeSeconds": "1",
    # The every-minute collector polls a public API (unreachable here, with real back-off
    # sleeps): off unless a test turns it on (tests/integration/test_ingest_*.py do).
    "IngestScheduleState": "DISABLED",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "twin(template=None, overrides=None, start=None): how the `twin` fixture deploys",
    )
    config.addinivalue_line(
        "markers",
        "refusals_expected: the test sends AWS requests the twin refuses as AWS would",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The lifecycle module (the whole demo, minutes) goes first: with pytest-xdist it then runs
    beside the other tests instead of after them (the order of the rest is kept)."""
    items.sort(key=lambda item: 0 if item.nodeid.startswith("tests/lifecycle/") else 1)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def load_event(repo_root: Path) -> Callable[[str], dict[str, Any]]:
    """load_event("retrain-accuracy-alarm.json") -> a fresh dict from events/."""

    def load(name: str) -> dict[str, Any]:
        path = repo_root / "events" / name
        if not path.suffix:
            path = path.with_suffix(".json")
        return json.loads(path.read_text())  # type: ignore[no-any-return]

    return load


def _fast_overrides(template: Path) -> dict[str, str]:
    from feecast_twin.intrinsics import load_yaml

    declared = load_yaml(template.read_text()).get("Parameters") or {}
    return {k: v for k, v in FAST_OVERRIDES.items() if k in declared}


@pytest.fixture
def make_twin(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Factory: make_twin(template=None, parameter_overrides=None, start=None, **kw) -> a
    deployed Twin (fast overrides merged in), closed after the test. One at a time.

    After the test, no request the stack made may have been refused by the twin's check of AWS's
    API contracts (a handler may swallow the error; AWS would still have refused it), unless
    the test is marked `refusals_expected`."""
    from feecast_twin import Twin

    made: list[Any] = []

    def make(
        template: str | Path | None = None,
        parameter_overrides: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        for old in made:
            old.close()
        path = Path(template) if template else REPO_ROOT / "template.yaml"
        if not path.is_absolute():
            path = REPO_ROOT / path
        overrides = {**_fast_overrides(path), **(parameter_overrides or {})}
        twin = Twin(template=path, parameter_overrides=overrides, **kwargs)
        made.append(twin)
        return twin.deploy()

    yield make
    refused = [r.to_dict() for twin in made for r in twin.records_of("request-refused")]
    for twin in made:
        twin.close()
    if refused and request.node.get_closest_marker("refusals_expected") is None:
        pytest.fail(f"AWS would have refused requests made in this test: {refused}")


@pytest.fixture
def twin(request: pytest.FixtureRequest, make_twin: Callable[..., Any]) -> Any:
    """A deployed Twin of template.yaml (or of @pytest.mark.twin(template=...)), closed after."""
    marker = request.node.get_closest_marker("twin")
    options = dict(marker.kwargs) if marker else {}
    return make_twin(
        template=options.pop("template", None),
        parameter_overrides=options.pop("overrides", None),
        **options,
    )


#: The DeepAR image of eu-west-1 (template.yaml DeepARImage mapping); the twin serves any image.
DEEPAR_IMAGE = "224300973850.dkr.ecr.eu-west-1.amazonaws.com/forecasting-deepar:1"


def _serve_stage(twin: Any, model_tar: bytes, stage: str) -> None:
    """Create feecast-<stage> on `model_tar` as the deploy stage would (serverless); the twin
    takes it InService, whose event activates the stage's monitoring."""
    bucket, sm = twin.physical_id("ArtifactBucket"), twin.client("sagemaker")
    twin.client("s3").put_object(Bucket=bucket, Key="models/tiny/model.tar.gz", Body=model_tar)
    sm.create_model(
        ModelName=f"feecast-tiny-{stage}",
        ExecutionRoleArn=twin.att("SageMakerExecutionRole", "Arn"),
        PrimaryContainer={
            "Image": DEEPAR_IMAGE,
            "ModelDataUrl": f"s3://{bucket}/models/tiny/model.tar.gz",
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"feecast-{stage}-tiny",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"feecast-tiny-{stage}",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
            }
        ],
    )
    sm.create_endpoint(EndpointName=f"feecast-{stage}", EndpointConfigName=f"feecast-{stage}-tiny")
    twin.settle()


@pytest.fixture(scope="session")
def serve_stage() -> Callable[[Any, bytes, str], None]:
    """serve_stage(twin, model_tar, "staging" | "production"): see _serve_stage."""
    return _serve_stage
