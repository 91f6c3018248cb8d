"""The twin checks requests as AWS does on the server (feecast_twin.contracts): each kind of
constraint of botocore's service models, Coral's wording, and the limits AWS enforces beyond
its models. Shapes are the real models' where one has the constraint, small ones otherwise."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.model import ShapeResolver

from feecast_twin import contracts
from feecast_twin.gateway import SERVICES, Call


def model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def rendered(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    return [v.render() for v in contracts.check_params(service, operation, params)]


def shape(definition: dict[str, Any], name: str = "Top") -> Any:
    return ShapeResolver(definition).get_shape_by_name(name)


# -- each kind of constraint -------------------------------------------------------------------
def test_a_missing_required_member_is_null() -> None:
    assert rendered("sagemaker", "DescribeTrainingJob", {}) == [
        "Value null at 'trainingJobName' failed to satisfy constraint: Member must not be null"
    ]


def test_patterns_match_the_whole_value_as_java_does() -> None:
    # A search would find "abc" inside "abc!"; AWS refuses the "!".
    assert rendered("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "abc!"}) == [
        "Value 'abc!' at 'trainingJobName' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    ]
    assert rendered("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "abc-1"}) == []


def test_string_lengths_both_ways() -> None:
    messages = rendered("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "a" * 64})
    assert any("Member must have length less than or equal to 63" in m for m in messages)
    assert rendered("ssm", "GetParameter", {"Name": ""}) == [
        "Value '' at 'name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    ]


def test_enums() -> None:
    [message] = rendered(
        "sagemaker",
        "UpdateModelPackage",
        {
            "ModelPackageArn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1",
            "ModelApprovalStatus": "OK",
        },
    )
    assert message.startswith("Value 'OK' at 'modelApprovalStatus' failed to satisfy constraint:")
    assert (
        "Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]" in message
    )


def test_numeric_ranges() -> None:
    [message] = rendered(
        "stepfunctions", "ListExecutions", {"stateMachineArn": "arn:x", "maxResults": 1001}
    )
    assert message == (
        "Value '1001' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000"
    )


def test_list_sizes_and_members_of_structures_by_their_1_based_position() -> None:
    dimensions = [{"Name": f"d{i}", "Value": "v"} for i in range(31)]
    datum = {"MetricName": "m", "Value": 1.0, "Dimensions": dimensions}
    [message] = rendered("cloudwatch", "PutMetricData", {"Namespace": "x", "MetricData": [datum]})
    assert "at 'metricData.1.member.dimensions' failed to satisfy constraint: " in message
    assert message.endswith("Member must have length less than or equal to 30")
    bad = [{"MetricName": "ok", "Value": 1.0}, {"MetricName": "", "Value": 1.0}]
    [message] = rendered("cloudwatch", "PutMetricData", {"Namespace": "x", "MetricData": bad})
    assert message.startswith("Value '' at 'metricData.2.member.metricName'")


def test_put_metric_data_takes_at_most_1000_metrics() -> None:
    data = [{"MetricName": "m", "Value": 1.0}] * 1001
    assert contracts.refusal(
        call("cloudwatch", "PutMetricData", {"Namespace": "x", "MetricData": data})
    ) == (
        "InvalidParameterValue",
        "The collection MetricData must not have a size greater than 1000.",
    )


def test_a_list_of_scalars_reports_its_members_constraints_at_the_list() -> None:
    top = shape(
        {
            "Top": {"type": "structure", "members": {"Names": {"shape": "Names"}}},
            "Names": {"type": "list", "member": {"shape": "Name"}, "max": 3},
            "Name": {"type": "string", "max": 2},
        }
    )
    [violation] = contracts.validate(top, {"Names": ["ab", "abc"]})
    assert violation.render() == (
        "Value '[ab, abc]' at 'names' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must have length less than or equal to 2]"
    )


def test_maps_check_their_size_keys_and_values() -> None:
    properties = {"quantiles": "0.05,0.5,0.95", "ok": "fine"}
    [message] = rendered(
        "sagemaker",
        "UpdateModelPackage",
        {
            "ModelPackageArn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1",
            "CustomerMetadataProperties": properties,
        },
    )
    assert message == (
        "Value '{quantiles=0.05,0.5,0.95, ok=fine}' at 'customerMetadataProperties' failed to "
        "satisfy constraint: Map value must satisfy constraint: [Member must satisfy regular "
        "expression pattern: ([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}]"
    )
    many = {f"k{i}": "v" for i in range(51)}
    [message] = rendered(
        "sagemaker",
        "UpdateModelPackage",
        {
            "ModelPackageArn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1",
            "CustomerMetadataProperties": many,
        },
    )
    assert "Member must have length less than or equal to 50" in message
    [message] = rendered(
        "sagemaker",
        "UpdateModelPackage",
        {
            "ModelPackageArn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1",
            "CustomerMetadataProperties": {"a,b": "v"},
        },
    )
    assert "Map keys must satisfy constraint:" in message


def test_blob_lengths() -> None:
    top = shape(
        {
            "Top": {"type": "structure", "members": {"Data": {"shape": "Data"}}},
            "Data": {"type": "blob", "max": 4},
        }
    )
    [violation] = contracts.validate(top, {"Data": b"12345"})
    assert "Member must have length less than or equal to 4" in violation.constraint


def test_nested_structures_camel_case_every_step() -> None:
    params = {
        "ModelName": "m",
        "PrimaryContainer": {"Image": "img", "Environment": {"KEY": "x" * 1025}},
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
    }
    [message] = rendered("sagemaker", "CreateModel", params)
    assert "at 'primaryContainer.environment'" in message
    assert (
        "Map value must satisfy constraint: [Member must have length less than or equal to 1024"
        in message
    )


def test_several_violations_are_counted_and_joined() -> None:
    text = contracts.message(
        [
            contracts.Violation("a", None, "Member must not be null"),
            contracts.Violation("b", 1, "x"),
        ]
    )
    assert text == (
        "2 validation errors detected: Value null at 'a' failed to satisfy constraint: Member "
        "must not be null; Value '1' at 'b' failed to satisfy constraint: x"
    )


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", "Größe 1", True),  # Unicode properties
        ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", "a,b", False),
        ("^[\\p{Alnum}]+$", "abc", True),
        ("^[\\p{Alnum}]+$", "äbc", False),  # Java's POSIX classes are ASCII
        ("\\d+", "١٢", False),  # Java's \d is ASCII
        ("[\\w-]+", "a-b_c", True),
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "ok 😀", True),
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "bell\x07", False),
        ("a\\\\d", "a\\d", True),  # an escaped backslash is not a class
    ],
)
def test_java_patterns_mean_the_same_here(pattern: str, value: str, matches: bool) -> None:
    compiled = contracts._compiled(pattern)
    assert compiled is not None
    assert (compiled.fullmatch(value) is not None) is matches


def test_every_pattern_of_the_served_services_compiles() -> None:
    for service in SERVICES:
        for definition in model(service)._shape_resolver._shape_map.values():
            if "pattern" in definition:
                contracts._compiled(definition["pattern"])
    assert contracts.uncompiled_patterns() == {}


# -- the answer, per protocol, and the limits beyond the models ---------------------------------
def call(service: str, operation: str, params: dict[str, Any]) -> Call:
    return Call(service, operation, params, model(service).operation_model(operation))


def test_a_json_service_answers_validation_exception_and_the_refusal_is_recorded() -> None:
    records: list[tuple[str, dict[str, Any]]] = []
    check = contracts.ContractCheck(lambda kind, **fields: records.append((kind, fields)))
    status, _headers, body = check(
        call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "bad name"})
    )  # type: ignore[misc]
    answer = json.loads(body)
    assert status == 400 and answer["__type"] == "ValidationException"
    assert answer["message"].startswith(
        "1 validation error detected: Value 'bad name' at 'trainingJobName'"
    )
    [(kind, fields)] = records
    assert kind == "request-refused" and fields["operation"] == "DescribeTrainingJob"
    assert check(call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "good-name"})) is None


def test_a_query_service_answers_validation_error() -> None:
    check = contracts.ContractCheck(lambda kind, **fields: None)
    answer = check(
        call("sns", "Publish", {"Message": "m", "TopicArn": "arn", "Subject": "s" * 100})
    )
    assert answer is not None
    status, _, body = answer
    assert status == 400 and b"<Code>InvalidParameter</Code>" in body
    assert b"Invalid parameter: Subject" in body


@pytest.mark.parametrize(
    ("subject", "refused"),
    [
        ("x" * 99, False),
        ("x" * 100, True),
        ("two\nlines", True),
        (" leading space", True),
        ("é", True),
    ],
)
def test_sns_subjects(subject: str, refused: bool) -> None:
    assert (
        contracts.refusal(call("sns", "Publish", {"Message": "m", "Subject": subject})) is not None
    ) is refused


def test_step_functions_input_size() -> None:
    big = json.dumps({"x": "y" * 262_144})
    [code, text] = contracts.refusal(
        call(
            "stepfunctions",
            "StartExecution",
            {"stateMachineArn": "arn:aws:states:eu-west-1:1:stateMachine:s", "input": big},
        )
    )  # type: ignore[misc]
    assert code == "ValidationException" and "input" in text
