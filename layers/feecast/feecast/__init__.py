"""feecast: the shared library of the Lambda layer (domain code, adapters, use cases)."""

__version__ = "0.1.0"
