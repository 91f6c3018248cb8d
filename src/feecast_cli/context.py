"""Where the operator commands run: AWS (default credentials) or the twin (--endpoint-url).

Both are found the same way: the stack's Outputs (DescribeStacks). The twin registers its
stack in moto's CloudFormation with the same Outputs, so no command has a twin branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

NO_CREDENTIALS = (
    "no AWS credentials found: configure them (aws configure, AWS_PROFILE, or an "
    "instance role), or point at the twin with --endpoint-url"
)


class CliError(RuntimeError):
    """A problem the operator can fix; printed without a traceback."""


@dataclass
class Context:
    stack_name: str = "feecast"
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def session(self) -> boto3.Session:
        try:
            return boto3.Session(profile_name=self.profile, region_name=self.region)
        except BotoCoreError as exc:
            raise CliError(f"cannot create an AWS session: {exc}") from exc

    def client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                self._clients[service] = self.session.client(
                    service, endpoint_url=self.endpoint_url
                )
            except NoRegionError as exc:
                raise CliError(
                    "no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION"
                ) from exc
        return self._clients[service]

    @cached_property
    def outputs(self) -> dict[str, str]:
        """The stack's Outputs, with a clear error when the stack or credentials are missing."""
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.stack_name)[
                "Stacks"
            ]
        except NoCredentialsError as exc:
            raise CliError(NO_CREDENTIALS) from exc
        except ClientError as exc:
            if "does not exist" in str(exc):
                where = self.endpoint_url or self.session.region_name
                raise CliError(
                    f"stack {self.stack_name!r} not found in {where}: deploy it with "
                    "`sam deploy --guided`, or pass --stack-name"
                ) from exc
            raise CliError(f"cannot read stack {self.stack_name!r}: {exc}") from exc
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    def server_now(self) -> datetime:
        """The server's "now" (its Date header): AWS's clock on AWS, the twin's clock on the twin.

        Expiry checks made from the operator's machine use it, so they agree with the
        functions that set the expiry, even when the twin's clock runs fast."""
        response = self.client("cloudformation").describe_stacks(StackName=self.stack_name)
        return server_time(response)

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError as exc:
            raise CliError(
                f"stack {self.stack_name!r} has no output {key!r}: is it an older feecast version?"
            ) from exc


def project_name(outputs: dict[str, str]) -> str:
    """The ProjectName parameter: its own output when the stack has one, else from the group."""
    if outputs.get("ProjectName"):
        return outputs["ProjectName"]
    group = outputs.get("ModelPackageGroupName", "")
    if group.endswith("-models"):
        return group.removesuffix("-models")
    raise CliError("the stack's Outputs name neither ProjectName nor ModelPackageGroupName")


def server_time(response: dict[str, Any] | None) -> datetime:
    """The time in an answer's Date header; this machine's clock when there is none."""
    header = ((response or {}).get("ResponseMetadata", {}).get("HTTPHeaders") or {}).get("date")
    if header:
        try:
            return parsedate_to_datetime(header).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)
