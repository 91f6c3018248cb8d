"""CloudFormation YAML (short-form tags) and intrinsic functions, as CloudFormation resolves them.

`load_yaml(text)` turns `!Ref X`, `!GetAtt A.B`, `!Sub ...` etc. into their long form
(`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, ...), so the rest of the twin sees one shape.
`Resolver.resolve(value)` evaluates them against parameters, pseudo parameters, mappings,
conditions and a callback that answers Ref / GetAtt for resources already created.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

# Short-form tag -> long-form key. GetAtt's short form is "A.B" (split on the first dot).
_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "GetAZs": "Fn::GetAZs",
    "Base64": "Fn::Base64",
    "Cidr": "Fn::Cidr",
    "ImportValue": "Fn::ImportValue",
    "ToJsonString": "Fn::ToJsonString",
    "Length": "Fn::Length",
}


class TemplateError(ValueError):
    """The template cannot be read or an intrinsic function cannot be resolved."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form tags."""


def _make_constructor(long_key: str) -> Callable[[yaml.Loader, yaml.Node], Any]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if long_key == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {long_key: value}

    return construct


for _short, _long in _TAGS.items():
    _CfnLoader.add_constructor(f"!{_short}", _make_constructor(_long))

# CloudFormation treats dates as strings (e.g. AWSTemplateFormatVersion "2010-09-09").
_CfnLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> dict[str, Any]:
    """Parse a CloudFormation template (YAML or JSON) into plain long-form dicts (a fresh copy
    each call: callers may change it)."""
    return copy.deepcopy(_parsed(text))


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> dict[str, Any]:
    # PyYAML in pure Python takes ~0.5 s for template.yaml; every twin deploy reads it.
    try:
        data = yaml.load(text, Loader=_CfnLoader)
    except yaml.YAMLError as exc:
        raise TemplateError(f"template is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TemplateError("template must be a mapping at the top level")
    return data


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")

#: Sentinel returned by Fn::If for AWS::NoValue: the property (or list item) is removed.
NO_VALUE = object()


class Resolver:
    """Evaluates intrinsic functions.

    `ref(name)` and `get_att(name, attribute)` answer for logical ids of resources; parameters,
    pseudo parameters, mappings and conditions are handled here.
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, str],
        mappings: Mapping[str, Any],
        conditions: Mapping[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self.parameters = dict(parameters)
        self.pseudo = dict(pseudo)
        self.mappings = mappings
        self._condition_defs = conditions
        self._condition_values: dict[str, bool] = {}
        self._ref = ref
        self._get_att = get_att

    # ------------------------------------------------------------------ conditions
    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._condition_defs:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_values[name] = bool(self.resolve(self._condition_defs[name]))
        return self._condition_values[name]

    # ------------------------------------------------------------------ resolution
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function in `value` (recursively); NO_VALUE items vanish."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._resolve_ref(self.resolve(arg))
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._resolve_fn(key, arg)
        out = {}
        for k, v in value.items():
            resolved = self.resolve(v)
            if resolved is not NO_VALUE:
                out[k] = resolved
        return out

    def _resolve_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _resolve_fn(self, key: str, arg: Any) -> Any:
        if key == "Fn::GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            name, attribute = (self.resolve(a) for a in arg)
            return self._get_att(name, attribute)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join":
            sep, items = self.resolve(arg)
            return str(sep).join(str(i) for i in items)
        if key == "Fn::Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if key == "Fn::Split":
            sep, text = self.resolve(arg)
            return str(text).split(sep)
        if key == "Fn::If":
            cond, if_true, if_false = arg
            return self.resolve(if_true if self.condition(cond) else if_false)
        if key == "Fn::Equals":
            a, b = self.resolve(arg)
            return str(a) == str(b)
        if key == "Fn::Not":
            (inner,) = arg
            return not self._truth(inner)
        if key == "Fn::And":
            return all(self._truth(c) for c in arg)
        if key == "Fn::Or":
            return any(self._truth(c) for c in arg)
        if key == "Fn::FindInMap":
            map_name, top, second = (self.resolve(a) for a in arg[:3])
            try:
                return self.mappings[map_name][top][second]
            except KeyError as exc:
                if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                    return self.resolve(arg[3]["DefaultValue"])
                raise TemplateError(
                    f"Fn::FindInMap: no value for [{map_name}][{top}][{second}]"
                ) from exc
        if key == "Fn::GetAZs":
            region = self.resolve(arg) or self.pseudo["AWS::Region"]
            return [f"{region}{suffix}" for suffix in "abc"]
        if key == "Fn::Base64":
            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg), separators=(",", ":"))
        if key == "Fn::Length":
            return len(self.resolve(arg))
        raise TemplateError(f"intrinsic function {key} is not supported by the twin")

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"}:
            return self.condition(value["Condition"])
        return bool(self.resolve(value))

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1]) if len(arg) > 1 else {}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):  # ${!Literal} -> ${Literal}
                return "${" + expr[1:] + "}"
            if expr in variables:
                return str(variables[expr])
            if "." in expr and expr not in self.pseudo:
                name, attribute = expr.split(".", 1)
                return str(self._get_att(name, attribute))
            return str(self._resolve_ref(expr))

        return _SUB_VAR.sub(replace, str(text))


def references(value: Any) -> set[str]:
    """Logical ids (and parameter names) that `value` refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and isinstance(arg, str):
                    found.add(arg)
                    return
                if key == "Fn::GetAtt":
                    parts = arg.split(".", 1) if isinstance(arg, str) else arg
                    if parts and isinstance(parts[0], str):
                        found.add(parts[0])
                    walk(parts[1:])
                    return
                if key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) else arg
                    local = set(arg[1]) if isinstance(arg, list) and len(arg) > 1 else set()
                    for expr in _SUB_VAR.findall(str(text)):
                        if not expr.startswith("!") and expr not in local:
                            found.add(expr.split(".", 1)[0])
                    if isinstance(arg, list) and len(arg) > 1:
                        walk(arg[1])
                    return
            for item in node.values():
                walk(item)

    walk(value)
    return found
