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

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / ".aws-sam" / "lint" / "template.json"

# The transform itself is the twin's (src/feecast_twin/sam.py): one definition of what
# CloudFormation receives, for the twin and for the linters. It needs only samtranslator.
sys.path.insert(0, str(ROOT / "src"))
from feecast_twin.sam import (  # noqa: E402
    TransformError,
    fold_definition_strings,
    prepare,
    transform,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--region", default="eu-west-1")
    args = parser.parse_args(argv)
    try:
        template = yaml_parse(args.template.read_text())
        prepared = prepare(template, args.template.resolve().parent, inline_definitions=True)
        result = fold_definition_strings(transform(prepared, args.region))
    except (OSError, TransformError) as exc:
        print(f"transform_template: {args.template}: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
