"""feecast_twin.patching: how the twin changes moto's code, checks it, lists it and undoes it.

Pure: the targets are small classes and modules made here, never moto's.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest

from feecast_twin.patching import Patcher, PatchError, applied


class Service:
    """Stands in for a moto class."""

    def call(self, name: str, value: int = 0) -> str:
        return f"moto {name} {value}"

    @staticmethod
    def parse(text: str) -> str:
        return f"moto parse {text}"

    @classmethod
    def build(cls, size: int) -> str:
        return f"moto build {size}"


class SubService(Service):
    """Inherits `call`: a patch on it must not leave a copy behind when undone."""


def _module() -> types.ModuleType:
    module = types.ModuleType("fake_moto_models")

    def factory(service_name: str) -> str:
        return f"moto {service_name}"

    module.factory = factory  # type: ignore[attr-defined]
    module.registry = {"s3": "moto-s3"}  # type: ignore[attr-defined]
    module.patterns = [("s3", "s3-url")]  # type: ignore[attr-defined]
    return module


@pytest.fixture
def patches() -> Iterator[Patcher]:
    made = Patcher("tests.unit.test_twin_patching")
    yield made
    made.undo()


def _ours() -> list[str]:
    return [p.target for p in applied() if p.made_by.startswith("tests.unit")]


def test_replace_is_listed_with_its_reason_and_undone(patches: Patcher) -> None:
    original = Service.__dict__["call"]
    patches.replace(Service, "call", lambda self, name, value=0: "twin", reason="why AWS needs it")
    assert Service().call("x") == "twin"
    (patch,) = [p for p in applied() if p.made_by == patches.made_by]
    assert patch.target == f"{__name__}.Service.call"
    assert (patch.reason, patch.adds) == ("why AWS needs it", False)
    patches.undo()
    assert Service.__dict__["call"] is original and _ours() == []


def test_replace_refuses_an_attribute_moto_no_longer_has(patches: Patcher) -> None:
    with pytest.raises(PatchError, match=r"Service\.gone no longer exists.*because the reason"):
        patches.replace(Service, "gone", lambda self: None, reason="the reason")
    assert _ours() == []


def test_replace_refuses_a_replacement_whose_parameters_moved(patches: Patcher) -> None:
    def renamed(self: Any, title: str, value: int = 0) -> str:
        return ""

    with pytest.raises(PatchError, match=r"also names \['title'\]"):
        patches.replace(Service, "call", renamed, reason="r")

    def too_few(self: Any) -> str:
        return ""

    with pytest.raises(PatchError, match=r"requires \['name'\]"):
        patches.replace(Service, "call", too_few, reason="r")
    assert "call" in vars(Service) and Service().call("a") == "moto a 0"


def test_replace_accepts_args_kwargs_and_can_skip_the_check(patches: Patcher) -> None:
    patches.replace(Service, "call", lambda self, *a, **k: "free", reason="r")
    assert Service().call("a", value=1) == "free"
    patches.replace(
        Service, "call", lambda self, other: "unchecked", reason="r", check_signature=False
    )
    assert Service().call("a") == "unchecked"
    patches.undo()
    assert Service().call("a") == "moto a 0"


def test_a_plain_function_replacing_a_staticmethod_stays_static(patches: Patcher) -> None:
    original = Service.__dict__["parse"]

    def parse(text: str) -> str:
        return f"twin parse {text}"

    patches.replace(Service, "parse", parse, reason="r")
    assert isinstance(Service.__dict__["parse"], staticmethod)
    assert Service.parse("a") == Service().parse("a") == "twin parse a"
    patches.undo()
    assert Service.__dict__["parse"] is original and Service.parse("a") == "moto parse a"


def test_a_staticmethod_signature_is_compared_without_self(patches: Patcher) -> None:
    def two(text: str, extra: str) -> str:
        return ""

    with pytest.raises(PatchError, match=r"also names \['extra'\]"):
        patches.replace(Service, "parse", two, reason="r")


def test_a_plain_function_replacing_a_classmethod_stays_a_classmethod(patches: Patcher) -> None:
    def build(cls: type, size: int) -> str:
        return f"twin build {cls.__name__} {size}"

    patches.replace(Service, "build", build, reason="r")
    assert Service.build(2) == "twin build Service 2"
    patches.undo()
    assert Service.build(2) == "moto build 2"


def test_undoing_a_patch_of_an_inherited_method_leaves_no_copy(patches: Patcher) -> None:
    patches.replace(SubService, "call", lambda self, name, value=0: "sub", reason="r")
    assert SubService().call("a") == "sub" and Service().call("a") == "moto a 0"
    patches.undo()
    assert "call" not in vars(SubService) and SubService().call("a") == "moto a 0"


def test_module_level_functions_are_replaced_and_checked(patches: Patcher) -> None:
    module = _module()
    original = module.factory
    with pytest.raises(PatchError, match=r"fake_moto_models\.factory changed"):
        patches.replace(module, "factory", lambda name: name, reason="r")
    patches.replace(module, "factory", lambda service_name: "twin", reason="r")
    assert module.factory("s3") == "twin"
    assert _ours() == ["fake_moto_models.factory"]
    patches.undo()
    assert module.factory is original


def test_add_refuses_what_moto_has_and_undo_removes_it(patches: Patcher) -> None:
    with pytest.raises(PatchError, match=r"Service\.call exists in moto now"):
        patches.add(Service, "call", lambda self: None, reason="r")
    patches.add(Service, "stop", lambda self: "stopped", reason="moto has no Stop")
    assert Service().stop() == "stopped"  # type: ignore[attr-defined]
    assert [p.adds for p in applied() if p.made_by == patches.made_by] == [True]
    patches.undo()
    assert not hasattr(Service, "stop")


def test_add_item_to_a_dict_registry(patches: Patcher) -> None:
    module = _module()
    with pytest.raises(PatchError, match=r"registry\[s3\] exists in moto now"):
        patches.add_item(module, "registry", "s3", "twin", reason="r")
    patches.add_item(module, "registry", "runtime", "twin-runtime", reason="r")
    assert module.registry == {"s3": "moto-s3", "runtime": "twin-runtime"}
    assert _ours() == ["fake_moto_models.registry[runtime]"]
    patches.undo()
    assert module.registry == {"s3": "moto-s3"} and _ours() == []


def test_add_item_to_a_list_registry_removes_exactly_that_entry(patches: Patcher) -> None:
    module = _module()
    entry = ("runtime", "runtime-url")
    patches.add_item(module, "patterns", "runtime", entry, reason="r")
    module.patterns.append(("later", "moto's own"))
    assert module.patterns[1] is entry
    with pytest.raises(PatchError, match="exists in moto now"):
        Patcher("tests.unit.other").add_item(module, "patterns", "runtime", entry, reason="r")
    patches.undo()
    assert module.patterns == [("s3", "s3-url"), ("later", "moto's own")]


def test_add_item_needs_a_dict_or_a_list(patches: Patcher) -> None:
    module = _module()
    module.name = "text"  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="needs a dict or a list"):
        patches.add_item(module, "name", "k", "v", reason="r")


def test_a_shared_patcher_names_its_module_and_is_undone_with_its_part(patches: Patcher) -> None:
    module = _module()
    other = patches.share("tests.unit.test_twin_patching.helper")
    patches.replace(Service, "call", lambda self, *a, **k: "part", reason="r")
    other.replace(module, "factory", lambda service_name: "helper", reason="r")
    assert [(p.attribute, p.made_by) for p in applied() if p.made_by.startswith("tests.unit")] == [
        ("call", "tests.unit.test_twin_patching"),
        ("factory", "tests.unit.test_twin_patching.helper"),
    ]
    patches.undo()
    assert Service().call("a") == "moto a 0" and module.factory("s3") == "moto s3"
    assert _ours() == []


def test_patches_of_one_attribute_are_undone_last_made_first(patches: Patcher) -> None:
    original = Service.__dict__["call"]
    patches.replace(Service, "call", lambda self, *a, **k: "first", reason="r")
    patches.replace(Service, "call", lambda self, *a, **k: "second", reason="r")
    patches.undo()
    assert Service.__dict__["call"] is original


def test_undo_goes_on_after_a_failure_and_reports_it(patches: Patcher) -> None:
    module = _module()
    patches.replace(Service, "call", lambda self, *a, **k: "twin", reason="r")
    patches.add(module, "extra", 1, reason="r")
    del module.extra  # someone removed it already: its undo fails
    with pytest.raises(AttributeError):
        patches.undo()
    assert Service().call("a") == "moto a 0" and _ours() == []


def test_applied_is_a_copy() -> None:
    listed = applied()
    listed.append(None)  # type: ignore[arg-type]
    assert None not in applied()
