"""SageMaker refuses a second model or endpoint configuration of the same name; moto overwrites.

AWS answers CreateModel / CreateEndpointConfig for a taken name with ValidationException
"Cannot create already existing model|endpoint configuration "<arn>"." (no modeled error; Step
Functions reports it as SageMaker.AmazonSageMakerException). The deploy library and the build
state machine decide what an existing name means (docs/deploy.md, docs/build.md), so the twin
must refuse as AWS does. `wraps()` gives the (attribute, wrapper) pairs the SageMaker
component installs on moto's backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _wrap_create_model(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_model(backend: Any, *args: Any, **kwargs: Any) -> Any:
        from moto.sagemaker.exceptions import ValidationError
        from moto.sagemaker.utils import arn_formatter

        name = kwargs.get("model_name", args[0] if args else None)
        if name in backend._models:
            arn = arn_formatter("model", name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Cannot create already existing model "{arn}".')
        return original(backend, *args, **kwargs)

    return create_model


def _wrap_create_endpoint_config(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_endpoint_config(backend: Any, *args: Any, **kwargs: Any) -> Any:
        from moto.sagemaker.exceptions import ValidationError
        from moto.sagemaker.models import FakeEndpointConfig

        name = kwargs.get("endpoint_config_name", args[0] if args else None)
        if name in backend.endpoint_configs:
            arn = FakeEndpointConfig.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(
                message=f'Cannot create already existing endpoint configuration "{arn}".'
            )
        return original(backend, *args, **kwargs)

    return create_endpoint_config


def wraps(backend_class: Any) -> list[tuple[str, Callable[..., Any]]]:
    return [
        ("create_model", _wrap_create_model(backend_class.create_model)),
        (
            "create_endpoint_config",
            _wrap_create_endpoint_config(backend_class.create_endpoint_config),
        ),
    ]
