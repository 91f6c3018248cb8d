"""The SAM transform, offline: what CloudFormation receives from `sam deploy`.

Shared by the twin (feecast_twin.loader deploys its output into moto) and by
scripts/transform_template.py (cfn-lint checks its output). It runs aws-sam-translator, SAM's own
transform, with no AWS call:

1. local CodeUri / ContentUri folders and DefinitionUri files become placeholder S3 locations
   (what `sam package` uploads), whose key names the local path (`local_path(key)`); with
   `inline_definitions`, a state machine's DefinitionUri file is inlined as Definition instead
   (SAM then writes it into DefinitionString, where cfn-lint can check it: the file must be
   JSON before its DefinitionSubstitutions are applied);
2. samtranslator's Translator runs with an explicit managed-policy map and a boto3 session that
   only names the region (no credentials, no network).

It imports nothing but samtranslator, boto3 and the standard library, so the SAM CLI's own
environment can run it too.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

PLACEHOLDER_BUCKET = "feecast-local-code"

# The AWS managed policies SAM attaches by name (its bundled map has them too; naming them here
# keeps the transform independent of that internal file and of iam:ListPolicies).
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}"
    for name, path in {
        "AWSLambdaBasicExecutionRole": "service-role/AWSLambdaBasicExecutionRole",
        "AWSLambdaVPCAccessExecutionRole": "service-role/AWSLambdaVPCAccessExecutionRole",
        "AWSXrayWriteOnlyAccess": "AWSXrayWriteOnlyAccess",
        "AWSXRayDaemonWriteAccess": "AWSXRayDaemonWriteAccess",
        "AWSLambdaRole": "service-role/AWSLambdaRole",
    }.items()
}

# SAM resource type -> its properties that may name a local path (what `sam package` uploads).
_LOCAL_URI_PROPERTIES = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
}


class TransformError(Exception):
    """The template cannot be transformed (a missing file, or SAM refused it)."""


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def placeholder(logical_id: str, path: str) -> dict[str, str]:
    """The S3 location standing for a local file or folder (its path is kept in the key)."""
    return {
        "Bucket": PLACEHOLDER_BUCKET,
        "Key": f"{logical_id}/{Path(path).as_posix().strip('/') or '.'}",
    }


def local_path(location: Any) -> str | None:
    """The local path (relative to the template) a placeholder S3 location stands for."""
    if not isinstance(location, dict):
        return None
    bucket = location.get("Bucket", location.get("S3Bucket"))
    key = location.get("Key", location.get("S3Key"))
    if bucket != PLACEHOLDER_BUCKET or not isinstance(key, str):
        return None
    return key.partition("/")[2] or None


def prepare(
    template: dict[str, Any], base: Path, *, inline_definitions: bool = False
) -> dict[str, Any]:
    """A copy with local files at placeholder S3 locations (definitions inlined, if asked)."""
    template = copy.deepcopy(template)
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        properties = resource.setdefault("Properties", {}) or {}
        resource["Properties"] = properties
        if (
            kind == "AWS::Serverless::Function"
            and "CodeUri" not in properties
            and "CodeUri" in globals_function
        ):  # SAM would take it from Globals
            properties["CodeUri"] = globals_function["CodeUri"]
        for prop in _LOCAL_URI_PROPERTIES.get(kind, ()):
            uri = properties.get(prop)
            if not _is_local(uri):
                continue
            path = base / uri
            if kind == "AWS::Serverless::StateMachine" and inline_definitions:
                if not path.is_file():
                    raise TransformError(f"{logical_id}: DefinitionUri {uri} is not a file")
                try:
                    properties["Definition"] = json.loads(path.read_text())
                except json.JSONDecodeError as exc:
                    raise TransformError(f"{logical_id}: {uri} is not JSON: {exc}") from exc
                del properties["DefinitionUri"]
            elif prop == "DefinitionUri":
                if not path.is_file():
                    raise TransformError(f"{logical_id}: DefinitionUri {uri} is not a file")
                properties[prop] = placeholder(logical_id, uri)
            else:
                if not path.exists():
                    raise TransformError(f"{logical_id}: {prop} {uri} does not exist")
                properties[prop] = placeholder(logical_id, uri)
    return template


def transform(template: dict[str, Any], region: str) -> dict[str, Any]:
    """samtranslator's transform, offline: the session only names the region."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    session = boto3.session.Session(region_name=region)
    translator = Translator(MANAGED_POLICIES, Parser(), boto_session=session)
    try:
        result: dict[str, Any] = translator.translate(template, parameter_values={})
    except Exception as exc:  # samtranslator raises InvalidDocumentException and friends
        raise TransformError(f"SAM refused the template: {exc}") from exc
    return result


def fold_definition_strings(cfn: dict[str, Any]) -> dict[str, Any]:
    """DefinitionString {"Fn::Join": [sep, [literal lines]]} -> the joined string (same value)."""
    for resource in cfn.get("Resources", {}).values():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource.get("Properties", {})
        value = properties.get("DefinitionString")
        if not (isinstance(value, dict) and list(value) == ["Fn::Join"]):
            continue
        separator, parts = value["Fn::Join"]
        if isinstance(separator, str) and all(isinstance(p, str) for p in parts):
            properties["DefinitionString"] = separator.join(parts)
    return cfn


_CACHE: dict[str, dict[str, Any]] = {}


def cloudformation(template: dict[str, Any], base: Path, region: str) -> dict[str, Any]:
    """prepare -> transform -> fold, remembered per (template, inlined files, region): the
    transform takes about a second, and a test session deploys the same template many times."""
    prepared = prepare(template, base)
    key = hashlib.sha256(
        json.dumps([prepared, region], sort_keys=True, default=str).encode()
    ).hexdigest()
    if key not in _CACHE:
        _CACHE[key] = fold_definition_strings(transform(prepared, region))
    return copy.deepcopy(_CACHE[key])


__all__ = [
    "MANAGED_POLICIES",
    "PLACEHOLDER_BUCKET",
    "TransformError",
    "cloudformation",
    "fold_definition_strings",
    "local_path",
    "placeholder",
    "prepare",
    "transform",
]
