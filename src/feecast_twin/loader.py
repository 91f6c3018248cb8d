"""template.yaml -> resources in moto, as `sam deploy` (SAM transform + CloudFormation) would.

Two steps:
1. `load_template(path, parameter_overrides)` reads the template, checks the parameters like
   CloudFormation (AllowedValues, AllowedPattern, MinValue / MaxValue) and runs SAM's own
   transform (aws-sam-translator, offline: feecast_twin.sam), so the twin deploys exactly the
   CloudFormation resources `sam deploy` would: generated roles, rules, schedules, permissions,
   with SAM's logical ids. Local code folders and definition files stay local: the transform
   sees placeholder S3 locations that name them.
2. `Deployer(...).deploy()` creates the resources in moto in dependency order through boto3
   (the mock is active), naming unnamed resources as CloudFormation does
   (`<stack>-<LogicalId>-<RANDOM>`).

Resource types the twin does not create are listed in `Stack.unknown` (never silently skipped);
types that only grant permissions (policies, Lambda permissions) are accepted as no-ops because
moto does not enforce IAM.
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import string
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feecast_twin import sam
from feecast_twin.intrinsics import Resolver, TemplateError, load_yaml, references

if TYPE_CHECKING:
    from feecast_twin.host import Host

log = logging.getLogger("feecast_twin.loader")

#: Types accepted without creating anything: they only grant permissions (moto enforces none),
#: or, for layers, the code is already importable (the editable-installed `feecast` package).
NO_OP_TYPES = {
    "AWS::IAM::Policy": "permissions are not enforced by moto",
    "AWS::IAM::ManagedPolicy": "permissions are not enforced by moto",
    "AWS::Lambda::Permission": "permissions are not enforced by moto",
    "AWS::S3::BucketPolicy": "permissions are not enforced by moto",
    "AWS::SNS::TopicPolicy": "permissions are not enforced by moto",
    "AWS::SQS::QueuePolicy": "permissions are not enforced by moto",
    "AWS::Logs::ResourcePolicy": "permissions are not enforced by moto",
    "AWS::Lambda::LayerVersion": "the layer is the editable-installed feecast package",
    "AWS::ApiGatewayV2::Stage": "the twin answers the API's routes itself (twin.http_request)",
}


@dataclass
class Resource:
    """One CloudFormation resource (after the SAM transform), properties not yet resolved."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    condition: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The local folder (functions) or file (state machine definitions) a placeholder names.
    local_path: Path | None = None


@dataclass
class Route:
    """An HTTP API route (SAM HttpApi / Api events), answered by `twin.http_request`."""

    method: str
    path: str
    function_logical_id: str
    api_logical_id: str | None


@dataclass
class LoadedTemplate:
    path: Path
    root: Path
    raw: dict[str, Any]  # the template as written
    cfn: dict[str, Any]  # what CloudFormation receives (after the SAM transform)
    parameters: dict[str, Any]
    resources: dict[str, Resource]
    routes: list[Route]
    #: Kept for the Twin API: the SAM transform refuses event sources it does not know.
    unknown_events: list[tuple[str, str]] = field(default_factory=list)

    @property
    def mappings(self) -> dict[str, Any]:
        return self.cfn.get("Mappings") or {}

    @property
    def conditions(self) -> dict[str, Any]:
        return self.cfn.get("Conditions") or {}

    @property
    def outputs(self) -> dict[str, Any]:
        return self.cfn.get("Outputs") or {}

    def order(self) -> list[str]:
        """Logical ids in dependency order (Ref / GetAtt / Sub / DependsOn), stable otherwise."""
        deps = {
            lid: (references(res.properties) | set(res.depends_on)) & set(self.resources) - {lid}
            for lid, res in self.resources.items()
        }
        done: list[str] = []
        state: dict[str, int] = {}

        def visit(lid: str, trail: tuple[str, ...]) -> None:
            if state.get(lid) == 2:
                return
            if state.get(lid) == 1:
                raise TemplateError(f"circular dependency: {' -> '.join((*trail, lid))}")
            state[lid] = 1
            for dep in sorted(deps[lid]):
                visit(dep, (*trail, lid))
            state[lid] = 2
            done.append(lid)

        for lid in self.resources:
            visit(lid, ())
        return done


# ---------------------------------------------------------------------- reading + SAM transform
def _parameter_values(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    declared = raw.get("Parameters") or {}
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = str(overrides[name])
        elif "Default" in spec:
            value = (
                str(spec["Default"]) if not isinstance(spec["Default"], list) else spec["Default"]
            )
        else:
            raise TemplateError(f"parameter {name} has no default and no override")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern and isinstance(value, str) and not re.fullmatch(pattern, value):
            raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
        ptype = spec.get("Type", "String")
        if ptype == "Number":
            try:
                number = float(value)
            except ValueError as exc:
                raise TemplateError(f"parameter {name}={value!r} is not a number") from exc
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise TemplateError(f"parameter {name}={value} < MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise TemplateError(f"parameter {name}={value} > MaxValue {spec['MaxValue']}")
        if ptype in ("CommaDelimitedList", "List<Number>") and isinstance(value, str):
            values[name] = [v.strip() for v in value.split(",")] if value else []
        else:
            values[name] = value
    return values


_FUNCTION_IN_URI = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")
_OPENAPI_METHODS = {"x-amazon-apigateway-any-method": "ANY"}


def _routes(cfn: dict[str, Any]) -> list[Route]:
    """The routes of every HTTP / REST API body SAM generated from the functions' events."""
    routes: list[Route] = []
    for lid, spec in (cfn.get("Resources") or {}).items():
        if spec.get("Type") not in ("AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi"):
            continue
        paths = ((spec.get("Properties") or {}).get("Body") or {}).get("paths") or {}
        for path, methods in paths.items():
            for method, operation in (methods or {}).items():
                uri = (operation.get("x-amazon-apigateway-integration") or {}).get("uri")
                text = uri.get("Fn::Sub") if isinstance(uri, dict) else uri
                match = _FUNCTION_IN_URI.search(text if isinstance(text, str) else "")
                if match is None:
                    continue
                routes.append(
                    Route(
                        method=_OPENAPI_METHODS.get(method, method.upper()),
                        path="$default" if path == "$default" else path,
                        function_logical_id=match.group(1),
                        api_logical_id=lid,
                    )
                )
    return routes


def load_template(
    path: str | Path, parameter_overrides: dict[str, Any] | None = None, region: str = "eu-west-1"
) -> LoadedTemplate:
    path = Path(path).resolve()
    try:
        text = path.read_text()
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    raw = load_yaml(text)
    params = _parameter_values(raw, dict(parameter_overrides or {}))
    try:
        cfn = sam.cloudformation(raw, path.parent, region) if raw.get("Transform") else raw
    except sam.TransformError as exc:
        raise TemplateError(str(exc)) from exc
    resources: dict[str, Resource] = {}
    for lid, spec in (cfn.get("Resources") or {}).items():
        props = dict(spec.get("Properties") or {})
        placeholder = props.get("Code") or props.get("DefinitionS3Location")
        local = sam.local_path(placeholder)
        depends = spec.get("DependsOn") or []
        resources[lid] = Resource(
            logical_id=lid,
            type=spec.get("Type", ""),
            properties=props,
            depends_on=[depends] if isinstance(depends, str) else list(depends),
            condition=spec.get("Condition"),
            metadata=spec.get("Metadata") or {},
            local_path=(path.parent / local).resolve() if local else None,
        )
    return LoadedTemplate(
        path=path,
        root=path.parent,
        raw=raw,
        cfn=cfn,
        parameters=params,
        resources=resources,
        routes=_routes(cfn),
    )


# ---------------------------------------------------------------------- deploying into moto
@dataclass
class Stack:
    """What the deployment produced: physical ids, attributes, outputs, what was not created."""

    name: str
    physical: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    no_op: list[tuple[str, str]] = field(default_factory=list)
    skipped_by_condition: list[str] = field(default_factory=list)
    #: function name -> (logical id, code dir, handler) for the Lambda runtime
    functions: dict[str, tuple[str, Path | None, str]] = field(default_factory=dict)


def _truthy(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _tiny_zip() -> bytes:
    """moto wants a code zip; the twin's runtime runs the function folder instead."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "# feecast twin: the real code runs from the function folder\n")
    return buf.getvalue()


_ZIP = _tiny_zip()


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    tags = props.get("Tags") or []
    if isinstance(tags, dict):
        return [{"Key": k, "Value": str(v)} for k, v in tags.items()]
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in tags]


class Deployer:
    """Creates a LoadedTemplate's resources in moto (the mock must be active)."""

    def __init__(self, twin: Host, template: LoadedTemplate, stack_name: str) -> None:
        self.twin = twin
        self.template = template
        self.stack = Stack(name=stack_name)
        self._rng = random.Random(f"feecast-twin:{stack_name}")
        self.region = twin.region
        self.account = twin.account_id
        self.partition = "aws"
        self.resolver = Resolver(
            parameters=template.parameters,
            pseudo={
                "AWS::Region": self.region,
                "AWS::AccountId": self.account,
                "AWS::Partition": self.partition,
                "AWS::StackName": stack_name,
                "AWS::StackId": (
                    f"arn:aws:cloudformation:{self.region}:{self.account}:stack/"
                    f"{stack_name}/00000000-0000-4000-8000-000000000000"
                ),
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NotificationARNs": [],  # type: ignore[dict-item]
            },
            mappings=template.mappings,
            conditions=template.conditions,
            ref=self._ref,
            get_att=self._get_att,
        )
        self._creators: dict[str, Callable[[Resource, dict[str, Any]], None]] = {
            "AWS::S3::Bucket": self._bucket,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::SSM::Parameter": self._ssm_parameter,
            "AWS::DynamoDB::Table": self._table,
            "AWS::IAM::Role": self._role,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Lambda::Function": self._function,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._rule,
            "AWS::Scheduler::Schedule": self._schedule,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::SageMaker::ModelPackageGroup": self._model_package_group,
            "AWS::SageMaker::FeatureGroup": self._feature_group,
            "AWS::SQS::Queue": self._queue,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::KMS::Key": self._kms_key,
            "AWS::ApiGatewayV2::Api": self._api,
        }

    # ------------------------------------------------------------------ naming
    def _random(self, n: int = 12, lower: bool = False) -> str:
        alphabet = string.ascii_uppercase + string.digits
        text = "".join(self._rng.choice(alphabet) for _ in range(n))
        return text.lower() if lower else text

    def generated_name(self, logical_id: str, max_len: int = 64, lower: bool = False) -> str:
        """`<stack>-<LogicalId>-<RANDOM>`, the logical id truncated to fit, as CloudFormation."""
        suffix = self._random(12, lower=lower)
        head = f"{self.stack.name}-{logical_id}"
        if lower:
            head = head.lower()
        room = max_len - len(suffix) - 1
        return f"{head[:room]}-{suffix}"

    # ------------------------------------------------------------------ Ref / GetAtt
    def _ref(self, name: str) -> Any:
        if name not in self.stack.physical:
            if name in self.template.resources:
                raise TemplateError(
                    f"Ref {name}: resource not created (condition false or unknown)"
                )
            raise TemplateError(f"Ref {name}: no such parameter or resource")
        return self.stack.physical[name]

    def _get_att(self, name: str, attribute: str) -> Any:
        attrs = self.stack.attributes.get(name)
        if attrs is None:
            raise TemplateError(f"GetAtt {name}.{attribute}: resource not created")
        if attribute not in attrs:
            raise TemplateError(
                f"GetAtt {name}.{attribute}: the twin knows {sorted(attrs)} for {self.stack.types[name]}"
            )
        return attrs[attribute]

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        reg = self.region if region else ""
        return f"arn:{self.partition}:{service}:{reg}:{self.account}:{resource}"

    # ------------------------------------------------------------------ deploy
    def deploy(self) -> Stack:
        for lid in self.template.order():
            res = self.template.resources[lid]
            if res.condition and not self.resolver.condition(res.condition):
                self.stack.skipped_by_condition.append(lid)
                continue
            self.stack.types[lid] = res.type
            if res.type in NO_OP_TYPES:
                self.stack.no_op.append((lid, res.type))
                self.stack.physical[lid] = self._no_op_physical_id(res)
                self.stack.attributes[lid] = {"Arn": self.stack.physical[lid]}
                continue
            creator = self._creators.get(res.type)
            if creator is None:
                # Listed (twin.unknown_resources) and logged; a placeholder id lets resources
                # that refer to it still be created.
                self.stack.unknown.append((lid, res.type))
                log.warning("twin does not create %s (%s)", lid, res.type)
                placeholder = f"{self.stack.name}-{lid}-NOT-EMULATED"
                self._set(lid, placeholder, Arn=placeholder)
                continue
            props = self.resolver.resolve(res.properties)
            try:
                creator(res, props)
            except TemplateError:
                raise
            except Exception as exc:
                raise TemplateError(f"creating {lid} ({res.type}) failed: {exc}") from exc
        for name, out in self.template.outputs.items():
            if out.get("Condition") and not self.resolver.condition(out["Condition"]):
                continue
            self.stack.outputs[name] = self.resolver.resolve(out.get("Value"))
        return self.stack

    def _no_op_physical_id(self, res: Resource) -> str:
        if res.type.endswith("LayerVersion"):
            name = self.resolver.resolve(res.properties.get("LayerName")) or res.logical_id
            return self.arn("lambda", f"layer:{name}:1")
        if res.type == "AWS::IAM::ManagedPolicy":  # Ref is the policy's ARN (IAM is global)
            name = self.resolver.resolve(res.properties.get("ManagedPolicyName"))
            return f"arn:aws:iam::{self.account}:policy/" + (
                name or self.generated_name(res.logical_id, 128)
            )
        return self.generated_name(res.logical_id)

    def _set(self, lid: str, physical: Any, **attrs: Any) -> None:
        self.stack.physical[lid] = physical
        self.stack.attributes[lid] = attrs

    # ------------------------------------------------------------------ creators
    def _bucket(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("BucketName") or self.generated_name(res.logical_id, 63, lower=True)
        s3 = self.twin.client("s3")
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**kwargs)
        if (p.get("VersioningConfiguration") or {}).get("Status"):
            s3.put_bucket_versioning(
                Bucket=name,
                VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]},
            )
        if p.get("Tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(p)})
        if (p.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") is not None:
            s3.put_bucket_notification_configuration(
                Bucket=name,
                NotificationConfiguration={"EventBridgeConfiguration": {}},
            )
        self._set(
            res.logical_id,
            name,
            Arn=f"arn:aws:s3:::{name}",
            DomainName=f"{name}.s3.amazonaws.com",
            RegionalDomainName=f"{name}.s3.{self.region}.amazonaws.com",
            WebsiteURL=f"http://{name}.s3-website-{self.region}.amazonaws.com",
        )

    def _topic(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("TopicName") or self.generated_name(res.logical_id, 256)
        attrs = {
            k: str(p[k])
            for k in ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication")
            if k in p
        }
        arn = self.twin.client("sns").create_topic(Name=name, Attributes=attrs)["TopicArn"]
        for sub in p.get("Subscription") or []:
            self.twin.client("sns").subscribe(
                TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"]
            )
        self._set(res.logical_id, arn, TopicArn=arn, TopicName=name)

    def _subscription(self, res: Resource, p: dict[str, Any]) -> None:
        attrs = {}
        if "FilterPolicy" in p:
            fp = p["FilterPolicy"]
            attrs["FilterPolicy"] = fp if isinstance(fp, str) else json.dumps(fp)
        if "RawMessageDelivery" in p:
            attrs["RawMessageDelivery"] = str(p["RawMessageDelivery"]).lower()
        arn = self.twin.client("sns").subscribe(
            TopicArn=p["TopicArn"],
            Protocol=p["Protocol"],
            Endpoint=p["Endpoint"],
            Attributes=attrs,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self._set(res.logical_id, arn, Arn=arn)

    def _ssm_parameter(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("Name") or f"CFN-{res.logical_id}-{self._random()}"
        kwargs: dict[str, Any] = {"Name": name, "Value": str(p["Value"]), "Type": p["Type"]}
        for key in ("Description", "AllowedPattern", "Tier", "DataType"):
            if key in p:
                kwargs[key] = p[key]
        self.twin.client("ssm").put_parameter(**kwargs)
        self._set(res.logical_id, name, Type=p["Type"], Value=str(p["Value"]))

    def _table(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("TableName") or self.generated_name(res.logical_id, 255)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": p["AttributeDefinitions"],
            "KeySchema": p["KeySchema"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        if "ProvisionedThroughput" in p:
            kwargs["ProvisionedThroughput"] = {
                k: int(v) for k, v in p["ProvisionedThroughput"].items()
            }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
            if key in p:
                kwargs[key] = p[key]
        if "StreamSpecification" in p:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
        if p.get("Tags"):
            kwargs["Tags"] = _tags(p)
        ddb = self.twin.client("dynamodb")
        desc = ddb.create_table(**kwargs)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and _truthy(ttl.get("Enabled", False)):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        self._set(
            res.logical_id,
            name,
            Arn=desc["TableArn"],
            StreamArn=desc.get("LatestStreamArn", ""),
        )

    def _create_role(
        self, lid: str, name: str | None, trust: dict[str, Any], path: str = "/"
    ) -> str:
        name = name or self.generated_name(lid, 64)
        trust = {"Version": "2012-10-17", **trust}
        role = self.twin.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Path=path
        )["Role"]
        self._set(lid, name, Arn=role["Arn"], RoleId=role["RoleId"])
        self.stack.types.setdefault(lid, "AWS::IAM::Role")
        return str(role["Arn"])

    def _role(self, res: Resource, p: dict[str, Any]) -> None:
        trust = p.get("AssumeRolePolicyDocument") or {}
        if isinstance(trust, str):
            trust = json.loads(trust)
        self._create_role(res.logical_id, p.get("RoleName"), trust, p.get("Path", "/"))
        iam = self.twin.client("iam")
        for policy in p.get("Policies") or []:
            doc = policy["PolicyDocument"]
            doc = json.loads(doc) if isinstance(doc, str) else dict(doc)
            # IAM defaults a missing Version to 2008-10-17; moto rejects it. Not enforced anyway.
            doc.setdefault("Version", "2012-10-17")
            iam.put_role_policy(
                RoleName=self.stack.physical[res.logical_id],
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(doc),
            )

    def _log_group(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("LogGroupName") or self.generated_name(res.logical_id, 512)
        logs = self.twin.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        self._set(res.logical_id, name, Arn=self.arn("logs", f"log-group:{name}:*"))

    def _function(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("FunctionName") or self.generated_name(res.logical_id, 64)
        handler = p.get("Handler") or "app.lambda_handler"
        code_dir = res.local_path
        if code_dir is not None:
            if not code_dir.is_dir():
                raise TemplateError(f"{res.logical_id}: CodeUri {code_dir} is not a folder")
            module = handler.rsplit(".", 1)[0].replace(".", "/")
            if not (code_dir / f"{module}.py").is_file():
                raise TemplateError(f"{res.logical_id}: {code_dir}/{module}.py does not exist")
        env = {k: str(v) for k, v in ((p.get("Environment") or {}).get("Variables") or {}).items()}
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": p.get("Runtime", "python3.12"),
            "Role": p["Role"],
            "Handler": handler,
            "Code": {"ZipFile": _ZIP},  # the worker runs the function's folder
            "Timeout": int(p.get("Timeout", 3)),
            "MemorySize": int(p.get("MemorySize", 128)),
            "Environment": {"Variables": env},
            "Publish": False,
        }
        for key in ("Description", "Architectures", "TracingConfig", "LoggingConfig"):
            if p.get(key):
                kwargs[key] = p[key]
        fn = self.twin.client("lambda").create_function(**kwargs)
        self.stack.functions[name] = (res.logical_id, code_dir, handler)
        self._set(res.logical_id, name, Arn=fn["FunctionArn"])

    def _state_machine(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("StateMachineName") or f"{res.logical_id}-{self._random()}"
        if "Definition" in p:
            definition = json.dumps(p["Definition"])
        elif "DefinitionString" in p:
            definition = p["DefinitionString"]
        elif res.local_path is not None:  # DefinitionS3Location: the local file sam package uploads
            try:
                definition = res.local_path.read_text()
            except OSError as exc:
                raise TemplateError(
                    f"{res.logical_id}: cannot read {res.local_path}: {exc}"
                ) from exc
        else:
            raise TemplateError(f"{res.logical_id}: no Definition / DefinitionString / local file")
        # CloudFormation replaces ${Name} in the definition text with each substitution.
        for key, value in (p.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        left = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)))
        if left:
            raise TemplateError(
                f"{res.logical_id}: DefinitionSubstitutions missing for {', '.join(left)}"
            )
        try:
            json.loads(definition)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"{res.logical_id}: definition is not JSON: {exc}") from exc
        kwargs: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": p["RoleArn"],
            "type": p.get("StateMachineType", "STANDARD"),
        }
        if p.get("TracingConfiguration"):
            kwargs["tracingConfiguration"] = {
                "enabled": _truthy(p["TracingConfiguration"].get("Enabled", False))
            }
        arn = self.twin.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
        self._set(res.logical_id, arn, Arn=arn, Name=name)

    def _rule(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("Name") or self.generated_name(res.logical_id, 64)
        bus = p.get("EventBusName", "default")
        state = p.get("State", "ENABLED")
        kwargs: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": state}
        if "EventPattern" in p:
            pattern = p["EventPattern"]
            kwargs["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in p:
            kwargs["ScheduleExpression"] = p["ScheduleExpression"]
        if "Description" in p:
            kwargs["Description"] = p["Description"]
        events = self.twin.client("events")
        arn = events.put_rule(**kwargs)["RuleArn"]
        targets = []
        for target in p.get("Targets") or []:
            t = dict(target)
            if isinstance(t.get("InputTransformer", {}).get("InputPathsMap"), dict):
                t["InputTransformer"] = dict(t["InputTransformer"])
            if "Input" in t and not isinstance(t["Input"], str):
                t["Input"] = json.dumps(t["Input"])
            targets.append(t)
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        self._set(res.logical_id, name, Arn=arn)

    def _schedule(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("Name") or self.generated_name(res.logical_id, 64)
        target = dict(p["Target"])
        if "Input" in target and not isinstance(target["Input"], str):
            target["Input"] = json.dumps(target["Input"])
        target.setdefault("RoleArn", self.arn("iam", f"role/{self.stack.name}-scheduler", False))
        kwargs: dict[str, Any] = {
            "Name": name,
            "ScheduleExpression": p["ScheduleExpression"],
            "FlexibleTimeWindow": p.get("FlexibleTimeWindow") or {"Mode": "OFF"},
            "Target": target,
            "State": p.get("State", "ENABLED"),
        }
        for key in (
            "GroupName",
            "ScheduleExpressionTimezone",
            "Description",
            "ActionAfterCompletion",
        ):
            if key in p:
                kwargs[key] = p[key]
        for key in ("StartDate", "EndDate"):
            if key in p:
                kwargs[key] = p[key]
        arn = self.twin.client("scheduler").create_schedule(**kwargs)["ScheduleArn"]
        self._set(res.logical_id, name, Arn=arn)

    def _alarm(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("AlarmName") or self.generated_name(res.logical_id, 255)
        kwargs: dict[str, Any] = {"AlarmName": name}
        for key in (
            "AlarmDescription",
            "ActionsEnabled",
            "OKActions",
            "AlarmActions",
            "InsufficientDataActions",
            "MetricName",
            "Namespace",
            "Statistic",
            "ExtendedStatistic",
            "Dimensions",
            "Unit",
            "ComparisonOperator",
            "TreatMissingData",
            "EvaluateLowSampleCountPercentile",
            "Metrics",
            "ThresholdMetricId",
        ):
            if key in p:
                kwargs[key] = p[key]
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in p:
                kwargs[key] = int(p[key])
        if "Threshold" in p:
            kwargs["Threshold"] = float(p["Threshold"])
        if "ActionsEnabled" in kwargs:
            kwargs["ActionsEnabled"] = _truthy(kwargs["ActionsEnabled"])
        self.twin.client("cloudwatch").put_metric_alarm(**kwargs)
        self._set(res.logical_id, name, Arn=self.arn("cloudwatch", f"alarm:{name}"))

    def _dashboard(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("DashboardName") or f"{res.logical_id}-{self._random()}"
        body = p["DashboardBody"]
        body = body if isinstance(body, str) else json.dumps(body)
        self.twin.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
        self._set(res.logical_id, name)

    def _model_package_group(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("ModelPackageGroupName") or self.generated_name(res.logical_id, 63)
        kwargs: dict[str, Any] = {"ModelPackageGroupName": name}
        if "ModelPackageGroupDescription" in p:
            kwargs["ModelPackageGroupDescription"] = p["ModelPackageGroupDescription"]
        arn = self.twin.client("sagemaker").create_model_package_group(**kwargs)[
            "ModelPackageGroupArn"
        ]
        self._set(
            res.logical_id,
            arn,
            ModelPackageGroupArn=arn,
            ModelPackageGroupName=name,
            ModelPackageGroupStatus="Completed",
        )

    def _feature_group(self, res: Resource, p: dict[str, Any]) -> None:
        name = p["FeatureGroupName"]
        kwargs: dict[str, Any] = {
            "FeatureGroupName": name,
            "RecordIdentifierFeatureName": p["RecordIdentifierFeatureName"],
            "EventTimeFeatureName": p["EventTimeFeatureName"],
            "FeatureDefinitions": p["FeatureDefinitions"],
        }
        for key in ("OnlineStoreConfig", "OfflineStoreConfig", "RoleArn", "Description"):
            if key in p:
                kwargs[key] = p[key]
        if p.get("Tags"):
            kwargs["Tags"] = _tags(p)
        arn = self.twin.client("sagemaker").create_feature_group(**kwargs)["FeatureGroupArn"]
        self._set(
            res.logical_id,
            name,
            FeatureGroupName=name,
            FeatureGroupArn=arn,
            FeatureGroupStatus="Created",
        )

    def _queue(self, res: Resource, p: dict[str, Any]) -> None:
        fifo = _truthy(p.get("FifoQueue", False))
        name = p.get("QueueName") or self.generated_name(res.logical_id, 75 if fifo else 80)
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attrs = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in p.items()
            if k not in ("QueueName", "Tags")
        }
        if "RedrivePolicy" in p:
            attrs["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        url = self.twin.client("sqs").create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        self._set(res.logical_id, url, Arn=self.arn("sqs", name), QueueName=name, QueueUrl=url)

    def _kms_key(self, res: Resource, p: dict[str, Any]) -> None:
        # The key policy is stored, not enforced (moto enforces no IAM), as for roles.
        kwargs: dict[str, Any] = {"Description": str(p.get("Description", ""))}
        if "KeyPolicy" in p:
            policy = p["KeyPolicy"]
            kwargs["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        kms = self.twin.client("kms")
        meta = kms.create_key(**kwargs)["KeyMetadata"]
        if _truthy(p.get("EnableKeyRotation", False)):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        self._set(res.logical_id, meta["KeyId"], Arn=meta["Arn"], KeyId=meta["KeyId"])

    def _secret(self, res: Resource, p: dict[str, Any]) -> None:
        name = p.get("Name") or f"{res.logical_id}-{self._random()}"
        sm = self.twin.client("secretsmanager")
        if "SecretString" in p:
            value = p["SecretString"]
        else:
            gen = p.get("GenerateSecretString") or {}
            options = {
                k: gen[k]
                for k in (
                    "ExcludeCharacters",
                    "ExcludeLowercase",
                    "ExcludeNumbers",
                    "ExcludePunctuation",
                    "ExcludeUppercase",
                    "IncludeSpace",
                    "RequireEachIncludedType",
                )
                if k in gen
            }
            for k in (
                "ExcludeLowercase",
                "ExcludeNumbers",
                "ExcludePunctuation",
                "ExcludeUppercase",
                "IncludeSpace",
                "RequireEachIncludedType",
            ):
                if k in options:
                    options[k] = _truthy(options[k])
            password = sm.get_random_password(
                PasswordLength=int(gen.get("PasswordLength", 32)), **options
            )["RandomPassword"]
            if "SecretStringTemplate" in gen:
                doc = json.loads(gen["SecretStringTemplate"])
                doc[gen["GenerateStringKey"]] = password
                value = json.dumps(doc)
            else:
                value = password
        kwargs: dict[str, Any] = {"Name": name, "SecretString": value}
        if "Description" in p:
            kwargs["Description"] = p["Description"]
        arn = sm.create_secret(**kwargs)["ARN"]
        self._set(res.logical_id, arn, Id=arn)

    def _api(self, res: Resource, p: dict[str, Any]) -> None:
        api_id = self._random(10, lower=True)
        endpoint = f"https://{api_id}.execute-api.{self.region}.amazonaws.com"
        self._set(res.logical_id, api_id, ApiEndpoint=endpoint, ApiId=api_id)
