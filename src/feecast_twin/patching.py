"""Every change the twin makes to moto's (or botocore's) code, declared where it is made, with
its reason, checked when it is made, and undone when the twin closes.

    patches = Patcher("feecast_twin.lambda_runtime")
    patches.replace(LambdaFunction, "_invoke_lambda", run,
                    reason="moto runs functions only in Docker; the twin runs them as processes")
    ...
    patches.undo()

`replace` refuses a target moto no longer has, and a replacement whose parameters no longer
match the original's: a moto upgrade that moves what the twin relies on fails at deploy, naming
the patch and its reason, instead of silently changing behaviour. `add` is for an attribute
moto lacks. `applied()` lists every patch in force (tests/integration/test_moto_canaries.py
deploys a twin and checks the list against the documented one in docs/local-twin.md).
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass
from typing import Any

_MISSING = object()


class PatchError(RuntimeError):
    """moto changed under a patch: the target is gone or its signature moved."""


@dataclass(frozen=True)
class Patch:
    owner: str  # "moto.awslambda.models.LambdaFunction"
    attribute: str
    reason: str
    made_by: str  # the twin module that applies it
    adds: bool = False  # True: an attribute moto lacks


_APPLIED: list[Patch] = []
_APPLIED_LOCK = threading.Lock()


def _name(owner: Any) -> str:
    if inspect.ismodule(owner):
        return str(owner.__name__)
    return f"{owner.__module__}.{owner.__qualname__}"


def _signature(value: Any) -> inspect.Signature | None:
    target = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
    if not callable(target) or inspect.isclass(target):
        return None
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def incompatibility(original: Any, replacement: Any, *, method: bool) -> str | None:
    """Why `replacement` cannot stand in for `original`, or None: each parameter it names must
    be one of the original's, and each parameter the original requires must reach it (by name
    or through *args / **kwargs). For a method the first parameter (self) is not compared."""
    before, after = _signature(original), _signature(replacement)
    if before is None or after is None:
        return None
    ours = list(after.parameters.values())
    theirs = list(before.parameters.values())
    if method:
        ours, theirs = ours[1:], theirs[1:]
    free = {p.kind for p in ours} & {
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    }
    named = [p.name for p in ours if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    known = [p.name for p in theirs if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    unknown = [n for n in named if n not in known]
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in theirs):
        return f"moto's takes {known}, the replacement also names {unknown}"
    required = [
        p.name
        for p in theirs
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    missed = [n for n in required if n not in named]
    if missed and not free:
        return f"moto's requires {missed}, which the replacement does not take"
    return None


class Patcher:
    def __init__(self, made_by: str) -> None:
        self.made_by = made_by
        self._undo: list[tuple[Any, str, Any, Patch]] = []

    def replace(
        self, owner: Any, attribute: str, value: Any, *, reason: str, check_signature: bool = True
    ) -> None:
        """Replace an existing attribute. With `check_signature`, the replacement must take the
        original's parameters (by name, in order; *args / **kwargs are free)."""
        original = (
            vars(owner).get(attribute, _MISSING)
            if not inspect.ismodule(owner)
            else getattr(owner, attribute, _MISSING)
        )
        if original is _MISSING and not hasattr(owner, attribute):
            raise PatchError(
                f"{_name(owner)}.{attribute} no longer exists in moto: the twin patched it "
                f"because {reason} ({self.made_by})"
            )
        if check_signature:
            problem = incompatibility(
                getattr(owner, attribute),
                value,
                method=inspect.isclass(owner) and not isinstance(original, staticmethod),
            )
            if problem is not None:
                raise PatchError(
                    f"{_name(owner)}.{attribute} changed: {problem}. The twin patched it "
                    f"because {reason} ({self.made_by})"
                )
        self._set(owner, attribute, value, Patch(_name(owner), attribute, reason, self.made_by))

    def add(self, owner: Any, attribute: str, value: Any, *, reason: str) -> None:
        """Add an attribute moto lacks (refused if moto has it now: then the twin's may be moot)."""
        if attribute in vars(owner):
            raise PatchError(
                f"{_name(owner)}.{attribute} exists in moto now; the twin adds its own because "
                f"{reason} ({self.made_by}): check whether moto's is enough"
            )
        self._set(
            owner, attribute, value, Patch(_name(owner), attribute, reason, self.made_by, adds=True)
        )

    def _set(self, owner: Any, attribute: str, value: Any, patch: Patch) -> None:
        raw = (
            vars(owner).get(attribute, _MISSING)
            if not inspect.ismodule(owner)
            else getattr(owner, attribute, _MISSING)
        )
        self._undo.append((owner, attribute, raw, patch))
        setattr(owner, attribute, value)
        with _APPLIED_LOCK:
            _APPLIED.append(patch)

    def undo(self) -> None:
        while self._undo:
            owner, attribute, raw, patch = self._undo.pop()
            if raw is _MISSING:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, raw)
            with _APPLIED_LOCK:
                if patch in _APPLIED:
                    _APPLIED.remove(patch)


def applied() -> list[Patch]:
    """The patches in force now, in the order they were made."""
    with _APPLIED_LOCK:
        return list(_APPLIED)


__all__ = ["Patch", "PatchError", "Patcher", "applied"]
