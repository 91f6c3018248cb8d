"""Names and S3 locations of one build, derived from its execution (pure, no AWS calls).

Everything a build writes lives under s3://<ArtifactBucket>/builds/<execution name>/:

    data/train/train.json          DeepAR train channel (series minus the held-out window)
    data/test/test.json            DeepAR test channel (the full series)
    data/actuals.json              the held-out minutes (DeepAR record format)
    transform/input/context.json   the training context the batch transform forecasts from
    transform/output/context.json.out   the batch transform's forecast (written by SageMaker)
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


def sagemaker_name(project: str, execution_name: str, execution_arn: str) -> str:
    """A training job / model / transform job name: unique per execution, <= 63 characters.

    `<project>-<execution name, cleaned and cut>-<8 hex of the execution ARN>`: readable, and
    the hash keeps two long execution names with the same prefix apart.
    """
    digest = hashlib.sha256(execution_arn.encode()).hexdigest()[:8]
    head = _NOT_NAME.sub("-", f"{project}-{execution_name}").strip("-")
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
    def actuals_key(self) -> str:
        return self.key("data/actuals.json")

    @property
    def transform_input_key(self) -> str:
        return self.key("transform/input/context.json")

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

    def to_uris(self) -> dict[str, str]:
        """The S3 URIs the state machine passes to SageMaker (prefixes end with '/')."""
        return {
            "train": self.uri(self.key("data/train/")),
            "test": self.uri(self.key("data/test/")),
            "actuals": self.uri(self.actuals_key),
            "transform_input": self.uri(self.key("transform/input/")),
            "transform_output": self.uri(self.transform_output_prefix),
            "forecast": self.uri(self.transform_output_key),
            "model_output": self.uri(self.key("model/")),
            "checkpoints": self.uri(self.key("checkpoints/")),
            "evaluation": self.uri(self.evaluation_key),
        }
