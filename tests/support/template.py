"""template.yaml parsed, and its intrinsics resolved as CloudFormation would with the
parameters' defaults (physical name = logical id): shared by the unit suites that read the
template's IAM statements and requests (no test module imports another)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feecast_twin.intrinsics import Resolver, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
REGION, ACCOUNT = "eu-west-1", "123456789012"
STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/feecast/0a1b2c3d-4e5f-6789-abcd"
DEFAULTS = {name: p.get("Default") for name, p in TEMPLATE["Parameters"].items()}


# -- resolving the template's ARNs as CloudFormation would (physical name = logical id) -------
_NAME_PROPERTY = {
    "AWS::SNS::Topic": "TopicName",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::SageMaker::FeatureGroup": "FeatureGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
}
_ARN = {
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Serverless::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
}
_REF_IS_ARN = {"AWS::SNS::Topic", "AWS::Serverless::StateMachine", "AWS::SecretsManager::Secret"}


def template_resolver(parameters: dict[str, Any]) -> Resolver:
    def name(lid: str) -> str:
        prop = _NAME_PROPERTY.get(RESOURCES[lid]["Type"])
        value = RESOURCES[lid]["Properties"].get(prop) if prop else None
        return str(resolver.resolve(value)) if value is not None else lid

    def arn(lid: str) -> str:
        return _ARN[RESOURCES[lid]["Type"]].format(name=name(lid), region=REGION, account=ACCOUNT)

    def ref(lid: str) -> str:
        return arn(lid) if RESOURCES[lid]["Type"] in _REF_IS_ARN else name(lid)

    def get_att(lid: str, attribute: str) -> str:
        if attribute == "Arn":
            return arn(lid)
        if attribute in ("Name", "TopicName"):
            return name(lid)
        raise KeyError(f"GetAtt {lid}.{attribute} is not modelled by this test")

    resolver = Resolver(
        parameters=parameters,
        pseudo={
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "feecast",
            "AWS::StackId": STACK,
        },
        mappings=TEMPLATE.get("Mappings", {}),
        conditions=TEMPLATE.get("Conditions", {}),
        ref=ref,
        get_att=get_att,
    )
    return resolver


RESOLVER = template_resolver(DEFAULTS)
