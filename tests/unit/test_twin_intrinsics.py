"""The twin's template reading: CloudFormation short-form tags and intrinsic functions."""

from __future__ import annotations

from typing import Any

import pytest

from feecast_twin.intrinsics import NO_VALUE, Resolver, TemplateError, load_yaml, references

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
Mappings:
  Images: {eu-west-1: {Image: img-eu}}
Resources:
  Thing:
    Type: AWS::S3::Bucket
    Properties:
      A: !Ref Env
      B: !Sub "${AWS::StackName}-${Env}-${Bucket.Arn}-${!Literal}"
      C: !GetAtt Bucket.Arn
      D: !FindInMap [Images, !Ref "AWS::Region", Image]
      E: !If [IsProd, big, small]
      F: !Join ["-", [a, !Ref Env, c]]
      G: !Select [1, !Split [",", "x,y,z"]]
      H: !If [IsProd, present, !Ref "AWS::NoValue"]
      I: !Sub ["${X}/${Env}", {X: !Ref Bucket}]
      J: !GetAZs ""
"""


def resolver(env: str = "dev") -> tuple[Resolver, dict[str, Any]]:
    tpl = load_yaml(TEMPLATE)
    attrs = {("Bucket", "Arn"): "arn:aws:s3:::b"}
    r = Resolver(
        parameters={"Env": env},
        pseudo={"AWS::Region": "eu-west-1", "AWS::StackName": "feecast", "AWS::AccountId": "1"},
        mappings=tpl["Mappings"],
        conditions=tpl["Conditions"],
        ref=lambda name: {"Bucket": "b"}[name],
        get_att=lambda name, attr: attrs[(name, attr)],
    )
    return r, tpl["Resources"]["Thing"]["Properties"]


def test_short_form_tags_become_long_form() -> None:
    tpl = load_yaml(TEMPLATE)
    props = tpl["Resources"]["Thing"]["Properties"]
    assert props["A"] == {"Ref": "Env"}
    assert props["C"] == {"Fn::GetAtt": ["Bucket", "Arn"]}
    assert tpl["AWSTemplateFormatVersion"] == "2010-09-09"  # a string, not a date


def test_given_dev_when_resolved_then_every_function_evaluates() -> None:
    r, props = resolver("dev")
    out = r.resolve(props)
    assert out == {
        "A": "dev",
        "B": "feecast-dev-arn:aws:s3:::b-${Literal}",
        "C": "arn:aws:s3:::b",
        "D": "img-eu",
        "E": "small",
        "F": "a-dev-c",
        "G": "y",
        "I": "b/dev",
        "J": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    }  # H is AWS::NoValue: removed
    assert r.condition("NotProd") is True


def test_given_prod_when_resolved_then_conditions_flip() -> None:
    r, props = resolver("prod")
    out = r.resolve(props)
    assert (out["E"], out["H"]) == ("big", "present")
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_references_finds_ref_getatt_and_sub_names() -> None:
    _, props = resolver()
    assert references(props) >= {"Env", "Bucket", "AWS::StackName", "AWS::Region"}


def test_unknown_condition_and_missing_mapping_are_errors() -> None:
    r, _ = resolver()
    with pytest.raises(TemplateError, match="unknown condition"):
        r.condition("Nope")
    with pytest.raises(TemplateError, match="FindInMap"):
        r.resolve({"Fn::FindInMap": ["Images", "us-east-1", "Image"]})
