"""Data at rest is encrypted, in transit is TLS only, and the keys are scoped (template.yaml).

Pure checks on the parsed template, beside `make lint`'s checkov run: these name the project's
own promises (docs/architecture.md, Permissions), which checkov's generic rules do not know.
Least privilege of every policy statement is checked in test_iam_policies.py.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from feecast_twin.intrinsics import Resolver, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
REGION, ACCOUNT = "eu-west-1", "123456789012"
RESOLVE = Resolver(
    parameters={name: p.get("Default") for name, p in TEMPLATE["Parameters"].items()},
    pseudo={"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"},
    mappings=TEMPLATE.get("Mappings", {}),
    conditions=TEMPLATE.get("Conditions", {}),
    ref=lambda lid: lid,
    get_att=lambda lid, attribute: f"{lid}.{attribute}",
).resolve

# Service principals a key policy may name, and why.
KEY_SERVICE_PRINCIPALS = {
    "cloudwatch.amazonaws.com": "alarms publish to the encrypted notification topic (SNS docs)",
    f"logs.{REGION}.amazonaws.com": "CloudWatch Logs encrypts the project's log groups",
}
# Buckets that may use SSE-S3 instead of SSE-KMS, and why.
SSE_S3_BUCKETS = {"AccessLogBucket": "S3 delivers server access logs only to SSE-S3 buckets"}


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in RESOURCES.items() if res["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _key_of(reference: Any) -> str:
    """The logical id of the AWS::KMS::Key a KmsKeyId-like property refers to."""
    lid = reference["Ref"] if "Ref" in reference else reference["Fn::GetAtt"][0]
    assert RESOURCES[lid]["Type"] == "AWS::KMS::Key", f"{reference} is not a key of the template"
    return lid


@pytest.mark.parametrize("bucket", sorted(_of_type("AWS::S3::Bucket")))
def test_every_bucket_is_encrypted_private_and_refuses_requests_without_tls(bucket):
    props = RESOURCES[bucket]["Properties"]
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
    assert algorithm == "aws:kms" or (algorithm == "AES256" and bucket in SSE_S3_BUCKETS)
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    denies = [
        s
        for policy in _of_type("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
    ]
    assert any(
        s["Principal"] == "*"
        and s["Action"] == "s3:*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and {RESOLVE(r) for r in s["Resource"]} == {f"{bucket}.Arn", f"{bucket}.Arn/*"}
        for s in denies
    ), f"{bucket}: no policy denying requests without TLS on the bucket and its objects"


def test_the_artifact_bucket_logs_every_access_to_a_bucket_of_the_stack():
    logging = RESOURCES["ArtifactBucket"]["Properties"]["LoggingConfiguration"]
    target = logging["DestinationBucketName"]["Ref"]
    assert RESOURCES[target]["Type"] == "AWS::S3::Bucket"
    [grant] = [
        s
        for s in RESOURCES[f"{target}Policy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert grant["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["ArtifactBucket", "Arn"]
    }
    assert RESOLVE(grant["Resource"]) == f"{target}.Arn/{logging['LogFilePrefix']}*"


@pytest.mark.parametrize("topic", sorted(_of_type("AWS::SNS::Topic")))
def test_every_topic_is_encrypted_with_a_key_of_the_stack(topic):
    _key_of(RESOURCES[topic]["Properties"]["KmsMasterKeyId"])


@pytest.mark.parametrize("table", sorted(_of_type("AWS::DynamoDB::Table")))
def test_every_table_is_kms_encrypted(table):
    # SSEEnabled = KMS with the AWS managed key aws/dynamodb (checkov CKV_AWS_119 skip says why
    # not a customer managed key).
    assert RESOURCES[table]["Properties"]["SSESpecification"]["SSEEnabled"] is True


@pytest.mark.parametrize("queue", sorted(_of_type("AWS::SQS::Queue")))
def test_every_queue_is_encrypted(queue):
    props = RESOURCES[queue]["Properties"]
    assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


@pytest.mark.parametrize("group", sorted(_of_type("AWS::Logs::LogGroup")))
def test_every_log_group_expires_and_is_encrypted_by_a_key_that_admits_it(group):
    props = RESOURCES[group]["Properties"]
    assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    key = _key_of(props["KmsKeyId"])
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{RESOLVE(props['LogGroupName'])}"
    admitted = [
        RESOLVE(pattern)
        for s in RESOURCES[key]["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
        for pattern in s["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    ]
    assert any(fnmatchcase(arn, p) for p in admitted), f"{key} does not admit {arn}"


def test_the_feature_store_offline_store_lands_in_the_kms_encrypted_bucket():
    [group] = _of_type("AWS::SageMaker::FeatureGroup").values()
    uri = RESOLVE(group["Properties"]["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"])
    assert uri.startswith("s3://ArtifactBucket/")
    bucket = RESOURCES["ArtifactBucket"]["Properties"]["BucketEncryption"]
    [rule] = bucket["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


@pytest.mark.parametrize("key", sorted(_of_type("AWS::KMS::Key")))
def test_every_key_rotates_and_admits_only_the_account_and_named_services(key):
    props = RESOURCES[key]["Properties"]
    assert props["EnableKeyRotation"] is True
    for s in props["KeyPolicy"]["Statement"]:
        assert s["Effect"] == "Allow" and s["Resource"] == "*", s  # "*" = this key
        principal = s["Principal"]
        if "AWS" in principal:
            assert RESOLVE(principal["AWS"]) == f"arn:aws:iam::{ACCOUNT}:root", s
            continue
        service = RESOLVE(principal["Service"])
        assert service in KEY_SERVICE_PRINCIPALS, f"{key}: {service} (add it with a reason)"
        if service.startswith("logs."):
            assert "kms:EncryptionContext:aws:logs:arn" in s["Condition"]["ArnLike"]


def test_the_approval_api_logs_its_requests_to_an_encrypted_group_without_the_link_secrets():
    settings = RESOURCES["ApprovalApi"]["Properties"]["AccessLogSettings"]
    group = settings["DestinationArn"]["Fn::GetAtt"][0]
    assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
    assert "$context.routeKey" in settings["Format"]
    # The path carries the approval id and the query the link's signature: never logged.
    assert "$context.path" not in settings["Format"]
    assert "querystring" not in settings["Format"].lower()


def _project_skips() -> dict[str, str]:
    """.checkov.yaml's skip-check ids -> the comment lines just above each (its reason)."""
    skips: dict[str, str] = {}
    reason: list[str] = []
    for line in (ROOT / ".checkov.yaml").read_text().splitlines():
        text = line.strip()
        if text.startswith("#"):
            reason.append(text.lstrip("# "))
        elif text.startswith("- "):
            skips[text[2:].strip()] = " ".join(reason)
            reason = []
        else:
            reason = []
    return skips


def test_every_checkov_skip_has_a_reason():
    skips = [
        (lid, skip)
        for lid, res in RESOURCES.items()
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "make lint runs checkov; resource-specific skips live in Metadata"
    for lid, skip in skips:
        assert skip["id"].startswith("CKV_"), (lid, skip)
        assert len(skip.get("comment", "")) >= 40, f"{lid}: {skip['id']} needs a real reason"
    project = _project_skips()
    assert project, "make lint runs checkov with .checkov.yaml; project-wide skips live there"
    for check, reason in project.items():
        assert check.startswith("CKV_"), check
        assert len(reason) >= 40, f".checkov.yaml: {check} needs a real reason above it"


def test_a_project_wide_skip_is_not_repeated_on_a_resource():
    project = set(_project_skips())
    repeated = [
        (lid, skip["id"])
        for lid, res in RESOURCES.items()
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", [])
        if skip["id"] in project
    ]
    assert repeated == []


def test_make_lint_runs_checkov_with_the_projects_config():
    makefile = (ROOT / "Makefile").read_text()
    [run] = [line for line in makefile.splitlines() if line.strip().startswith("$(CHECKOV) ")]
    assert "--config-file .checkov.yaml" in run
