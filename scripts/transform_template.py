"""Transform template.yaml (SAM) into plain CloudFormation for cfn-lint, with no AWS call.

cfn-lint 1 validates a SAM template against SAM's own schemas and no longer runs the transform,
so `sam validate --lint` misses what only the generated resources show: a Lambda runtime that
does not exist, a timeout over 900 s, an invalid state machine definition (cfn-lint validates
AWS::StepFunctions::StateMachine DefinitionString). This script produces what CloudFormation
would receive, and `make lint` runs cfn-lint on it:

1. inline every state machine's local DefinitionUri file as Definition, so SAM writes it into
   DefinitionString (with its DefinitionSubstitutions) where cfn-lint can check it;
2. replace local CodeUri / ContentUri folders with placeholder S3 locations (what `sam package`
   uploads; the code itself is not part of the template);
3. run samtranslator's Translator with an explicit managed-policy map and a boto3 session that
   only names the region (no credentials, no network);
4. fold each DefinitionString that SAM wrote as Fn::Join of literal lines into the one string
   CloudFormation computes from it: cfn-lint skips a definition given as a function.

Run it with the SAM CLI's environment, which has samtranslator and cfn-lint:
    .tools/sam/bin/python scripts/transform_template.py [--template T] [--output O]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / ".aws-sam" / "lint" / "template.json"
PLACEHOLDER_BUCKET = "feecast-lint-placeholder"

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


def _placeholder(logical_id: str, path: str) -> dict[str, str]:
    key = f"{logical_id}/{Path(path).as_posix().strip('/').replace('/', '-') or 'root'}.zip"
    return {"Bucket": PLACEHOLDER_BUCKET, "Key": key}


def prepare(template: dict[str, Any], base: Path) -> dict[str, Any]:
    """Inline local state machine definitions, point local code at placeholder S3 objects."""
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        properties = resource.get("Properties") or {}
        for prop in _LOCAL_URI_PROPERTIES.get(kind, ()):
            uri = properties.get(prop)
            if not _is_local(uri):
                continue
            path = base / uri
            if kind == "AWS::Serverless::StateMachine":
                if not path.is_file():
                    raise TransformError(f"{logical_id}: DefinitionUri {uri} is not a file")
                try:
                    properties["Definition"] = json.loads(path.read_text())
                except json.JSONDecodeError as exc:
                    raise TransformError(f"{logical_id}: {uri} is not JSON: {exc}") from exc
                del properties["DefinitionUri"]
            elif kind in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
                if not path.is_file():
                    raise TransformError(f"{logical_id}: DefinitionUri {uri} is not a file")
                properties[prop] = _placeholder(logical_id, uri)
            else:
                if not path.exists():
                    raise TransformError(f"{logical_id}: {prop} {uri} does not exist")
                properties[prop] = _placeholder(logical_id, uri)
    return template


def transform(template: dict[str, Any], region: str) -> dict[str, Any]:
    """samtranslator's transform, offline: the session only names the region."""
    session = boto3.session.Session(region_name=region)
    translator = Translator(MANAGED_POLICIES, Parser(), boto_session=session)
    try:
        return translator.translate(template, parameter_values={})
    except Exception as exc:  # samtranslator raises InvalidDocumentException and friends
        raise TransformError(f"SAM refused the template: {exc}") from exc


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--region", default="eu-west-1")
    args = parser.parse_args(argv)
    try:
        template = yaml_parse(args.template.read_text())
        prepared = prepare(template, args.template.resolve().parent)
        result = fold_definition_strings(transform(prepared, args.region))
    except (OSError, TransformError) as exc:
        print(f"transform_template: {args.template}: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
