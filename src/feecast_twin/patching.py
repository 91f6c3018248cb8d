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
moto lacks, `add_item` for an entry in one of moto's registries (a dict or a list). `applied()`
lists every patch in force: tests/integration/test_moto_canaries.py deploys a twin and checks
the list against the table in docs/twin-patches.md.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MISSING = object()


class PatchError(RuntimeError):
    """moto changed under a patch: the target is gone or its signature moved."""


@dataclass(frozen=True)
class Patch:
    owner: str  # "moto.awslambda.models.LambdaFunction"
    attribute: str  # "_invoke_lambda"; an entry of a registry: "backend_url_patterns[<key>]"
    reason: str
    made_by: str  # the twin module that applies it
    adds: bool = False  # True: an attribute (or entry) moto lacks

    @property
    def target(self) -> str:
        return f"{self.owner}.{self.attribute}"


_APPLIED: list[Patch] = []
_APPLIED_LOCK = threading.Lock()


def _name(owner: Any) -> str:
    if inspect.ismodule(owner):
        return str(owner.__name__)
    return f"{owner.__module__}.{owner.__qualname__}"


def _raw(owner: Any, attribute: str) -> Any:
    """The attribute as stored on `owner` itself (a staticmethod stays a staticmethod), or
    _MISSING when `owner` only inherits it or lacks it."""
    return vars(owner).get(attribute, _MISSING)


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
    """The patches of one twin part, undone together (last made, first undone)."""

    def __init__(self, made_by: str) -> None:
        self.made_by = made_by
        self._undo: list[tuple[Callable[[], None], Patch]] = []  # (how to undo, the patch)

    def share(self, made_by: str) -> Patcher:
        """A Patcher for another module of the same part: its patches carry `made_by` and are
        undone by this Patcher's `undo()`, in the order of all the part's patches."""
        other = Patcher(made_by)
        other._undo = self._undo
        return other

    def replace(
        self, owner: Any, attribute: str, value: Any, *, reason: str, check_signature: bool = True
    ) -> None:
        """Replace an existing attribute of a class or module. With `check_signature`, the
        replacement must take the original's parameters (by name; *args / **kwargs are free).
        A plain function replacing a staticmethod or classmethod is wrapped the same way."""
        raw = _raw(owner, attribute)
        # As stored (a staticmethod or classmethod unbound), on the owner or a base class.
        stored = inspect.getattr_static(owner, attribute, _MISSING)
        if stored is _MISSING:
            stored = getattr(owner, attribute, _MISSING)
        if stored is _MISSING:
            raise PatchError(
                f"{_name(owner)}.{attribute} no longer exists in moto: the twin patched it "
                f"because {reason} ({self.made_by})"
            )
        kind = type(stored) if isinstance(stored, (staticmethod, classmethod)) else None
        if kind is not None and inspect.isfunction(value):
            value = kind(value)
        if check_signature:
            problem = incompatibility(
                stored, value, method=inspect.isclass(owner) and kind is not staticmethod
            )
            if problem is not None:
                raise PatchError(
                    f"{_name(owner)}.{attribute} changed: {problem}. The twin patched it "
                    f"because {reason} ({self.made_by})"
                )
        patch = Patch(_name(owner), attribute, reason, self.made_by)

        def undo() -> None:
            if raw is _MISSING:  # inherited: removing the twin's lets the base's show again
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, raw)

        setattr(owner, attribute, value)
        self._done(undo, patch)

    def add(self, owner: Any, attribute: str, value: Any, *, reason: str) -> None:
        """Add an attribute moto lacks (refused if moto has it now: then the twin's may be moot)."""
        if attribute in vars(owner):
            raise PatchError(
                f"{_name(owner)}.{attribute} exists in moto now; the twin adds its own because "
                f"{reason} ({self.made_by}): check whether moto's is enough"
            )
        setattr(owner, attribute, value)
        self._done(
            lambda: delattr(owner, attribute),
            Patch(_name(owner), attribute, reason, self.made_by, adds=True),
        )

    def add_item(self, owner: Any, attribute: str, key: str, value: Any, *, reason: str) -> None:
        """Add an entry to the registry `owner.attribute`: for a dict, `value` under `key`
        (refused if the key is there); for a list, `value` appended (refused if an equal entry
        is there; `key` names it in `applied()`). Undo removes exactly that entry."""
        container = getattr(owner, attribute)
        label = f"{_name(owner)}.{attribute}[{key}]"
        if isinstance(container, dict):
            present = key in container
        elif isinstance(container, list):
            present = value in container
        else:
            raise TypeError(f"{label}: add_item needs a dict or a list, not {type(container)}")
        if present:
            raise PatchError(
                f"{label} exists in moto now; the twin adds its own because {reason} "
                f"({self.made_by}): check whether moto's is enough"
            )

        def undo() -> None:
            if isinstance(container, dict):
                if container.get(key, _MISSING) is value:
                    del container[key]
            else:
                for i, entry in enumerate(container):
                    if entry is value:
                        del container[i]
                        break

        if isinstance(container, dict):
            container[key] = value
        else:
            container.append(value)
        self._done(undo, Patch(_name(owner), f"{attribute}[{key}]", reason, self.made_by, True))

    def _done(self, undo: Callable[[], None], patch: Patch) -> None:
        self._undo.append((undo, patch))
        with _APPLIED_LOCK:
            _APPLIED.append(patch)

    def undo(self) -> None:
        """Undo every patch of this part (and of the Patchers it shared), last made first."""
        failed: BaseException | None = None
        while self._undo:
            undo, patch = self._undo.pop()
            try:
                undo()
            except Exception as exc:  # undo the rest all the same; report the first failure
                failed = failed or exc
            with _APPLIED_LOCK:
                for i, entry in enumerate(_APPLIED):
                    if entry is patch:
                        del _APPLIED[i]
                        break
        if failed is not None:
            raise failed


def applied() -> list[Patch]:
    """The patches in force now, in the order they were made."""
    with _APPLIED_LOCK:
        return list(_APPLIED)


__all__ = ["Patch", "PatchError", "Patcher", "applied", "incompatibility"]
