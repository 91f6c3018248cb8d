"""Names and S3 locations of one build, derived from its execution (pure, no AWS calls).

Everything a build writes lives under s3://<ArtifactBucket>/builds/<execution name>/:

    data/train/train.json          DeepAR train channel (the history before the backtest)
    data/test/test.json            DeepAR test channel (train + the first backtest window)
    data/series.json               the whole history (DeepAR record): actuals and baselines
    transform/input/backtest.json  one line per backtest origin (the history before it)
    transform/output/backtest.json.out      the candidate's forecasts (written by SageMaker)
    transform/production/backtest.json.out  the production model's, same origins (if any)
    model/<job name>/output/model.tar.gz the trained model (written by SageMaker)
    checkpoints/                   spot training checkpoints
    evaluation.json                the evaluation (model package ModelQuality statistics)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["BuildLayout", "sagemaker_name"]

_NOT_NAME = re.compile(r"[^a-zA-Z0-9-]+")
_MAX_SAGEMAKER_NAME = 63


def sagemaker_name(
    project: str, execution_name: str, execution_arn: str, *, role: str | None = None
) -> str:
    """A training job / model / transform job name: unique per execution, <= 63 characters.

    `<project>-<execution name, cleaned and cut>-<8 hex of the execution ARN>`: readable, and
    the hash keeps two long execution names with the same prefix apart. `role` names a second
    resource of the same build ("production": the model in production's copy and its
    transform): `<project>-<role>-<execution name, cut>-<8 hex of ARN + role>`.
    """
    seed = execution_arn if role is None else f"{execution_arn}#{role}"
    digest = hashlib.sha256(seed.encode()).hexdigest()[:8]
    name = f"{project}-{execution_name}" if role is None else f"{project}-{role}-{execution_name}"
    head = _NOT_NAME.sub("-", name).strip("-")
    head = head[: _MAX_SAGEMAKER_NAME - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


@dataclass(frozen=True)
class BuildLayout:
    bucket: str
    execution_name: str

    @property
    def prefix(self) -> str:
        return f"builds/{self.execution_name}/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def key(self, relative: str) -> str:
        return self.prefix + relative

    @property
    def train_key(self) -> str:
        return self.key("data/train/train.json")

    @property
    def test_key(self) -> str:
        return self.key("data/test/test.json")

    @property
    def series_key(self) -> str:
        return self.key("data/series.json")

    @property
    def transform_input_key(self) -> str:
        return self.key("transform/input/backtest.json")

    @property
    def production_output_prefix(self) -> str:
        return self.key("transform/production/")

    @property
    def transform_output_prefix(self) -> str:
        return self.key("transform/output/")

    @property
    def evaluation_key(self) -> str:
        return self.key("evaluation.json")

    @property
    def transform_output_key(self) -> str:
        # SageMaker names the output after the input object: <input file name>.out
        name = self.transform_input_key.rsplit("/", 1)[1]
        return f"{self.transform_output_prefix}{name}.out"

    @property
    def production_output_key(self) -> str:
        name = self.transform_input_key.rsplit("/", 1)[1]
        return f"{self.production_output_prefix}{name}.out"

    def to_uris(self) -> dict[str, str]:
        """The S3 URIs the state machine passes to SageMaker (prefixes end with '/')."""
        return {
            "train": self.uri(self.key("data/train/")),
            "test": self.uri(self.key("data/test/")),
            "series": self.uri(self.series_key),
            "transform_input": self.uri(self.key("transform/input/")),
            "transform_output": self.uri(self.transform_output_prefix),
            "forecast": self.uri(self.transform_output_key),
            "production_output": self.uri(self.production_output_prefix),
            "model_output": self.uri(self.key("model/")),
            "checkpoints": self.uri(self.key("checkpoints/")),
            "evaluation": self.uri(self.evaluation_key),
        }
