"""Shared test support: in-memory fakes of the library's ports (fakes.py) and settings."""
