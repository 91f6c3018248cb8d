"""The SageMaker part of the twin: jobs run the local DeepAR, endpoints serve it, events flow.

`SageMakerTwin(twin)` is a Component (feecast_twin.components) that patches moto's sagemaker and
sagemaker-runtime backends and its Step Functions sagemaker integration. See docs/local-twin.md
("SageMaker") for what it emulates and how faithfully.
"""

from feecast_twin.sagemaker.component import SageMakerTwin

__all__ = ["SageMakerTwin"]
