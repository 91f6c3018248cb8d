"""Each function, state machine and role may do what its code does on AWS (IAM), and no more.

The twin runs on moto, which enforces no IAM: a missing permission would first show up on AWS.
NEEDS is the trace of every entry point's AWS calls (handler, the feecast library code it calls,
the state machine's service integrations) as IAM actions on concrete resources of a stack
deployed with the default parameters. The test expands the template's policies (the SAM policy
templates used are mapped in SAM_POLICY_TEMPLATES, as samtranslator defines them), resolves
their ARNs and checks that each need is allowed. Conditions (kms:ViaService, namespaces) are
not evaluated here; docs/architecture.md "Permissions" says why each one is there.

Not covered: what SAM adds by itself (AWSLambdaBasicExecutionRole, X-Ray, the DeadLetterQueue
policy, Lambda permissions of event sources, the roles of ScheduleV2 events).
"""

from __future__ import annotations

import copy
import re
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

import pytest

from tests.support.template import (
    ACCOUNT,
    DEFAULTS,
    REGION,
    RESOLVER,
    RESOURCES,
    ROOT,
    STACK,
    template_resolver,
)

# -- the SAM policy templates this template uses (samtranslator policy_templates.json) ------
SAM_POLICY_TEMPLATES: dict[str, tuple[list[str], list[str]]] = {
    "DynamoDBCrudPolicy": (
        [
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:Scan",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:BatchGetItem",
            "dynamodb:DescribeTable",
            "dynamodb:ConditionCheckItem",
        ],
        [
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}",
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}/index/*",
        ],
    ),
    "DynamoDBReadPolicy": (
        [
            "dynamodb:GetItem",
            "dynamodb:Scan",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
            "dynamodb:DescribeTable",
        ],
        [
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}",
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}/index/*",
        ],
    ),
    "SSMParameterReadPolicy": (
        ["ssm:GetParameters", "ssm:GetParameter", "ssm:GetParametersByPath"],
        ["arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${ParameterName}"],
    ),
    "S3ReadPolicy": (
        [
            "s3:GetObject",
            "s3:ListBucket",
            "s3:GetBucketLocation",
            "s3:GetObjectVersion",
            "s3:GetLifecycleConfiguration",
        ],
        ["arn:${AWS::Partition}:s3:::${BucketName}", "arn:${AWS::Partition}:s3:::${BucketName}/*"],
    ),
    "S3CrudPolicy": (
        [
            "s3:GetObject",
            "s3:ListBucket",
            "s3:GetBucketLocation",
            "s3:GetObjectVersion",
            "s3:PutObject",
            "s3:PutObjectAcl",
            "s3:GetLifecycleConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:DeleteObject",
        ],
        ["arn:${AWS::Partition}:s3:::${BucketName}", "arn:${AWS::Partition}:s3:::${BucketName}/*"],
    ),
    "EventBridgePutEventsPolicy": (
        ["events:PutEvents"],
        ["arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"],
    ),
    "LambdaInvokePolicy": (
        ["lambda:InvokeFunction"],
        ["arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${FunctionName}*"],
    ),
    "StepFunctionsExecutionPolicy": (
        ["states:StartExecution"],
        [
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${StateMachineName}"
        ],
    ),
    "AWSSecretsManagerGetSecretValuePolicy": (["secretsmanager:GetSecretValue"], ["${SecretArn}"]),
}
# SSMParameterReadPolicy also grants ssm:DescribeParameters on "*" (a List action).
_TEMPLATE_STAR_STATEMENTS = {"SSMParameterReadPolicy": ["ssm:DescribeParameters"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def declared_statements(properties: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    """The policy statements a resource's template properties declare, unresolved."""
    if type_ == "AWS::IAM::Role":
        return [s for p in properties.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    if type_ == "AWS::IAM::ManagedPolicy":
        return list(properties["PolicyDocument"]["Statement"])
    statements: list[dict[str, Any]] = []
    for item in properties.get("Policies", []):
        assert isinstance(item, dict), f"managed policy {item!r}: map it in this test first"
        ((key, value),) = item.items()
        if key == "Ref":  # a managed policy of this template (NotificationPublisherPolicy)
            attached = RESOURCES[value]
            assert attached["Type"] == "AWS::IAM::ManagedPolicy", value
            statements += declared_statements(attached["Properties"], attached["Type"])
            continue
        if key == "Statement":
            statements += _as_list(value)
            continue
        actions, resources = SAM_POLICY_TEMPLATES[key]  # KeyError: a template to map here
        subs = [{"Fn::Sub": [r, value]} for r in resources]
        statements.append({"Effect": "Allow", "Action": actions, "Resource": subs})
        if key in _TEMPLATE_STAR_STATEMENTS:
            statements.append(
                {"Effect": "Allow", "Action": _TEMPLATE_STAR_STATEMENTS[key], "Resource": "*"}
            )
    return statements


def statements_of(logical_id: str) -> list[dict[str, Any]]:
    res = RESOURCES[logical_id]
    return [RESOLVER.resolve(s) for s in declared_statements(res["Properties"], res["Type"])]


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    for s in statements:
        if s.get("Effect") != "Allow":
            continue
        if any(fnmatchcase(action.lower(), a.lower()) for a in _as_list(s["Action"])) and any(
            fnmatchcase(resource, r) for r in _as_list(s["Resource"])
        ):
            return True
    return False


# -- what each entry point needs (the trace) --------------------------------------------------
class Need(NamedTuple):
    action: str
    resource: str
    why: str


def _sm(path: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{path}"


def _table(lid: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{lid}"


def _param(suffix: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/feecast/{suffix}"


def _states(path: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:{path}"


def _fn(lid: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{lid}"


BUCKET = "arn:aws:s3:::ArtifactBucket"
BUILD_OBJECT = f"{BUCKET}/builds/alarm-x/data/train/train.json"
OFFLINE_OBJECT = f"{BUCKET}/feature-store/{ACCOUNT}/sagemaker/{REGION}/offline-store/x.parquet"
FEATURE_GROUP = _sm("feature-group/feecast-fee-minutes")
PACKAGE = _sm("model-package/feecast-models/7")
STAGING, PRODUCTION = _sm("endpoint/feecast-staging"), _sm("endpoint/feecast-production")
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:feecast-notifications"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/NotificationKey"
DEFAULT_BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
BUILD_MACHINE = _states("stateMachine:feecast-model-build")
DEPLOY_MACHINE = _states("stateMachine:feecast-model-deploy")
SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecutionRole"
TRAINING_JOB = _sm("training-job/feecast-alarm-2026-01-05t10-15z-1a2b3c4d")
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:feecast/approval-link-key-AbCdEf"
ANY = "*"  # the action names no resource: only a "*" grant allows it


def _alarm(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def _idempotency(why: str) -> list[Need]:
    return [
        Need(f"dynamodb:{a}", _table("IdempotencyTable"), why)
        for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
    ]


def _config(*suffixes: str) -> list[Need]:
    return [
        Need("ssm:GetParameter", _param(s), "feecast.adapters.parameters.load_config")
        for s in suffixes
    ]


def _notify(why: str) -> list[Need]:
    return [
        Need("sns:Publish", TOPIC, why),
        Need("events:PutEvents", DEFAULT_BUS, f"{why}: the same outcome as an event"),
        Need("kms:GenerateDataKey", KEY, "the topic is encrypted with NotificationKey"),
        Need("kms:Decrypt", KEY, "the topic is encrypted with NotificationKey"),
    ]


def _history(why: str) -> list[Need]:
    return [
        Need("sagemaker:DescribeFeatureGroup", FEATURE_GROUP, f"{why}: where the offline store is"),
        Need("s3:ListBucket", BUCKET, f"{why}: list the offline store's day partitions"),
        Need("s3:GetObject", OFFLINE_OBJECT, f"{why}: read the offline store's Parquet"),
        Need("sagemaker:BatchGetRecord", FEATURE_GROUP, f"{why}: newest minutes, online store"),
    ]


SFN_LOG_DELIVERY = (
    "CreateLogDelivery",
    "GetLogDelivery",
    "UpdateLogDelivery",
    "DeleteLogDelivery",
    "ListLogDeliveries",
    "PutResourcePolicy",
    "DescribeResourcePolicies",
    "DescribeLogGroups",
)


def _sfn_logs() -> list[Need]:
    return [
        Need(f"logs:{a}", ANY, "ERROR logging to the state machine's log group")
        for a in SFN_LOG_DELIVERY
    ]


NEEDS: dict[str, list[Need]] = {
    # ---- 1 Ingest
    "CollectTransactionsFunction": [
        Need("dynamodb:BatchGetItem", _table("IngestTable"), "open minutes of a poll"),
        Need(
            "dynamodb:UpdateItem", _table("IngestTable"), "count a transaction once (conditional)"
        ),
        Need("dynamodb:GetItem", _table("IngestTable"), "the closer's cursor"),
        Need("dynamodb:Query", _table("IngestTable"), "the first open minute to close"),
        Need("sagemaker:PutRecord", FEATURE_GROUP, "write each closed minute"),
    ],
    # ---- 2 Build
    "PrepareDataFunction": [
        *_config("target", "hyperparameters", "validation"),
        *_history("feecast.adapters.feature_history"),
        Need("s3:PutObject", BUILD_OBJECT, "DeepAR channels, the history, backtest input"),
        Need("dynamodb:GetItem", _table("StateTable"), "DEPLOY#production/CURRENT"),
        Need("sagemaker:DescribeModelPackage", PACKAGE, "the production model to compare"),
    ],
    "EvaluateModelFunction": [
        *_config("validation"),
        Need("s3:GetObject", BUILD_OBJECT, "both transforms' output, the history"),
        Need("s3:PutObject", BUILD_OBJECT, "evaluation.json"),
        Need("sagemaker:DescribeTrainingJob", TRAINING_JOB, "DeepAR's own final metrics"),
    ],
    "RegisterModelFunction": [
        *_idempotency("Powertools idempotency on the execution ARN"),
        Need("sagemaker:CreateModelPackage", PACKAGE, "register the package"),
        Need(
            "sagemaker:CreateModelPackage",
            _sm("model-package-group/feecast-models"),
            "in its group",
        ),
    ],
    "ReportBuildFailureFunction": _notify("which step failed and why"),
    "StartBuildFunction": [
        Need("dynamodb:GetItem", _table("StateTable"), "BUILD# claim and lock"),
        Need("dynamodb:PutItem", _table("StateTable"), "BUILD# claim and lock (conditional)"),
        Need("states:ListExecutions", BUILD_MACHINE, "join a running build"),
        Need("states:DescribeExecution", _states("execution:feecast-model-build:x"), "claim state"),
        Need("states:StartExecution", BUILD_MACHINE, "start the build"),
    ],
    "ModelBuildStateMachine": [
        *[
            Need("lambda:InvokeFunction", _fn(f), "a Lambda task")
            for f in (
                "PrepareDataFunction",
                "EvaluateModelFunction",
                "RegisterModelFunction",
                "ReportBuildFailureFunction",
            )
        ],
        *[
            Need(f"sagemaker:{a}", TRAINING_JOB, "Train The Model (.sync, tagged)")
            for a in ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "AddTags")
        ],
        Need("sagemaker:CreateModel", _sm("model/feecast-x"), "Create The Model"),
        Need("sagemaker:AddTags", _sm("model/feecast-x"), "Create The Model (tagged)"),
        Need("sagemaker:DescribeModel", _sm("model/feecast-x"), "Find The Existing Model"),
        *[
            Need(f"sagemaker:{a}", _sm("transform-job/feecast-x"), "Forecast The Backtest Origins")
            for a in ("CreateTransformJob", "DescribeTransformJob", "StopTransformJob", "AddTags")
        ],
        *[
            Need("sagemaker:ListTags", arn, ".sync reads the tags of the jobs it starts")
            for arn in (TRAINING_JOB, _sm("model/feecast-x"), _sm("transform-job/feecast-x"))
        ],
        *[
            Need(f"events:{a}", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}", ".sync watcher")
            for a in ("PutTargets", "PutRule", "DescribeRule")
            for rule in (
                "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
                "StepFunctionsGetEventsForSageMakerTransformJobsRule",
            )
        ],
        Need(
            "iam:PassRole", SAGEMAKER_ROLE, "the jobs and the model run as SageMakerExecutionRole"
        ),
        *_notify("Notify The Model Was Registered / Rejected"),
        *_sfn_logs(),
    ],
    # ---- 3 Deploy
    "StartDeployFunction": [
        *_idempotency("Powertools idempotency on the approval"),
        Need("sagemaker:DescribeModelPackage", PACKAGE, "still Approved?"),
        Need("states:StartExecution", DEPLOY_MACHINE, "one deployment per approval"),
    ],
    "UpdateThresholdFunction": [
        Need("sagemaker:DescribeModelPackage", PACKAGE, "the model's loss (metadata)"),
        Need("dynamodb:GetItem", _table("StateTable"), "THRESHOLD# claim"),
        Need("dynamodb:PutItem", _table("StateTable"), "THRESHOLD# claim (conditional)"),
        *_config("validation"),
        Need("ssm:PutParameter", _param("validation"), "lower the threshold"),
    ],
    "DeployEndpointFunction": [
        Need("sagemaker:DescribeModelPackage", PACKAGE, "the package's container"),
        Need(
            "sagemaker:CreateModel", _sm("model/feecast-v7-20260105t101500"), "one per deployment"
        ),
        Need("sagemaker:AddTags", _sm("model/feecast-v7-20260105t101500"), "the model is tagged"),
        Need("iam:PassRole", SAGEMAKER_ROLE, "CreateModel's ExecutionRoleArn"),
        Need(
            "sagemaker:CreateEndpointConfig",
            _sm("endpoint-config/feecast-staging-v7-20260105t101500"),
            "one per deployment",
        ),
        Need(
            "sagemaker:DescribeModel",
            _sm("model/feecast-v7-20260105t101500"),
            "an existing model of that name must be this deployment's",
        ),
        Need(
            "sagemaker:DescribeEndpointConfig",
            _sm("endpoint-config/feecast-production-v6-20260101t101500"),
            "the running config's type (Provisioned / Serverless), an existing config's model",
        ),
        Need("sagemaker:AddTags", STAGING, "the endpoint is tagged with the project"),
        Need("sagemaker:DescribeEndpoint", STAGING, "create or update?"),
        Need("sagemaker:CreateEndpoint", STAGING, "first deployment"),
        Need("sagemaker:UpdateEndpoint", PRODUCTION, "later deployments, guardrails"),
        Need("sagemaker:DeleteEndpoint", STAGING, "a Failed endpoint is recreated"),
        Need(
            "cloudwatch:DescribeAlarms",
            _alarm("feecast-production-invocation-errors"),
            "which rollback alarms exist (AlarmNames=...)",
        ),
    ],
    "AwaitEndpointFunction": [
        Need("dynamodb:PutItem", _table("StateTable"), "WAITER# keeps the task token"),
        Need("dynamodb:DeleteItem", _table("StateTable"), "resume once (conditional delete)"),
        Need("sagemaker:DescribeEndpoint", STAGING, "already final?"),
        Need("states:SendTaskSuccess", ANY, "resume the deployment"),
        Need("states:SendTaskFailure", ANY, "fail the deployment"),
    ],
    "ResumeEndpointWaiterFunction": [
        Need("dynamodb:GetItem", _table("StateTable"), "who waits for this endpoint"),
        Need("dynamodb:DeleteItem", _table("StateTable"), "resume once (conditional delete)"),
        Need("sagemaker:DescribeEndpoint", PRODUCTION, "trust the present state, not a late event"),
        Need("states:SendTaskSuccess", ANY, "resume the deployment"),
        Need("states:SendTaskFailure", ANY, "fail the deployment"),
    ],
    "SmokeTestFunction": [
        *_config("target", "hyperparameters", "validation"),
        *_history("recent minutes as the context"),
        Need("sagemaker:InvokeEndpoint", STAGING, "the smoke request"),
    ],
    "RequestApprovalFunction": [
        Need("dynamodb:PutItem", _table("StateTable"), "APPROVAL# keeps the task token"),
        Need(
            "secretsmanager:GetSecretValue",
            SECRET,
            "sign the links",
        ),
        *_notify("the approval request with its links"),
    ],
    "ApprovalCallbackFunction": [
        Need(
            "secretsmanager:GetSecretValue",
            SECRET,
            "verify the signature",
        ),
        Need("dynamodb:DeleteItem", _table("StateTable"), "consume the approval once"),
        Need("dynamodb:GetItem", _table("StateTable"), "expired or used?"),
        Need("states:SendTaskSuccess", ANY, "resume with the decision"),
    ],
    "ReportOutcomeFunction": _notify("approved / rejected / timed out / failed"),
    "RecordDeploymentFunction": [
        Need("dynamodb:GetItem", _table("StateTable"), "DEPLOY#<stage> CURRENT"),
        Need("dynamodb:PutItem", _table("StateTable"), "DEPLOY#<stage> history"),
        *_notify("deployment / rollback recorded"),
    ],
    "TeardownEndpointFunction": [
        Need("sagemaker:DescribeEndpoint", STAGING, "absent already?"),
        Need("sagemaker:DeleteEndpoint", STAGING, "only staging"),
    ],
    "OnPackageRejectedFunction": [
        *_idempotency("Powertools idempotency on the rejection"),
        Need("states:ListExecutions", DEPLOY_MACHINE, "running deployments of the package"),
        Need("states:StopExecution", _states("execution:feecast-model-deploy:v7-x"), "stop them"),
        Need("dynamodb:GetItem", _table("StateTable"), "what production serves"),
        Need("dynamodb:Query", _table("StateTable"), "deployment history (rollback target)"),
        Need("sagemaker:DescribeModelPackage", PACKAGE, "is the target still approved?"),
        Need("states:StartExecution", DEPLOY_MACHINE, "the rollback"),
        *_notify("deployment stopped / rejected model in production"),
    ],
    "ModelDeployStateMachine": [
        Need("events:PutEvents", DEFAULT_BUS, "Announce Staging Serves The Model"),
        *[
            Need("lambda:InvokeFunction", _fn(f), "a Lambda task")
            for f in (
                "UpdateThresholdFunction",
                "DeployEndpointFunction",
                "AwaitEndpointFunction",
                "SmokeTestFunction",
                "RequestApprovalFunction",
                "ReportOutcomeFunction",
                "RecordDeploymentFunction",
                "TeardownEndpointFunction",
            )
        ],
        *_sfn_logs(),
    ],
    # ---- 4 Monitor
    "ActivateMonitoringFunction": [
        *_idempotency("once per endpoint change"),
        *_config("target", "hyperparameters", "validation"),
        *[
            Need(
                f"cloudwatch:{a}",
                f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:feecast-{stage}-accuracy",
                "the stage's accuracy alarm",
            )
            for a in ("EnableAlarmActions", "DisableAlarmActions")
            for stage in ("staging", "production")
        ],
        Need("cloudwatch:DescribeAlarms", _alarm("feecast-staging-accuracy"), "does it exist"),
        Need("sagemaker:DescribeEndpoint", STAGING, "the failure reason"),
        *_notify("monitoring on / off, endpoint failed"),
    ],
    "MonitorEndpointFunction": [
        *_idempotency("once per scheduled hour"),
        *_config("target", "hyperparameters", "validation"),
        *_history("the minutes that really happened"),
        Need("sagemaker:DescribeEndpoint", PRODUCTION, "which config served"),
        Need("sagemaker:InvokeEndpoint", STAGING, "the next hour's forecast"),
        Need("sagemaker:InvokeEndpoint", PRODUCTION, "the next hour's forecast"),
        Need("dynamodb:GetItem", _table("StateTable"), "FORECAST# made an hour ago"),
        Need("dynamodb:PutItem", _table("StateTable"), "FORECAST# for the next run, SCORE#"),
        Need("dynamodb:Query", _table("StateTable"), "SCORE# of the last hours (rolling loss)"),
        Need("cloudwatch:PutMetricData", ANY, "the loss at the scheduled hour (namespace-bound)"),
    ],
    # ---- 5 Retrain
    "RetrainOnAlarmFunction": [
        *_idempotency("once per alarm transition"),
        *_config("validation"),
        Need("dynamodb:Query", _table("StateTable"), "the newest SCORE#: model or fees?"),
        Need("dynamodb:GetItem", _table("StateTable"), "episode, build claim, lock"),
        Need("dynamodb:PutItem", _table("StateTable"), "open an episode (conditional)"),
        Need("dynamodb:UpdateItem", _table("StateTable"), "record the episode's build"),
        Need(
            "cloudwatch:DescribeAlarms",
            _alarm("feecast-production-accuracy"),
            "actions disabled = endpoint deleted",
        ),
        Need("states:ListExecutions", BUILD_MACHINE, "join a running build"),
        Need("states:DescribeExecution", _states("execution:feecast-model-build:x"), "claim state"),
        Need("states:StartExecution", BUILD_MACHINE, "exactly one build"),
        *_notify("what the alarm started"),
    ],
    # ---- roles assumed by services
    "SageMakerExecutionRole": [
        Need("s3:ListBucket", BUCKET, "S3Prefix channels"),
        Need("s3:GetObject", BUILD_OBJECT, "channels, model.tar.gz, transform input"),
        Need("s3:PutObject", BUILD_OBJECT, "model, checkpoints, transform output"),
        Need("ecr:GetAuthorizationToken", ANY, "pull the DeepAR image"),
        *[
            Need(
                f"ecr:{a}",
                f"arn:aws:ecr:{REGION}:224300973850:repository/forecasting-deepar",
                "pull the DeepAR image",
            )
            for a in ("BatchGetImage", "GetDownloadUrlForLayer")
        ],
        *[
            Need(
                f"logs:{a}",
                f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs:log-stream:x",
                "job and endpoint logs",
            )
            for a in ("CreateLogStream", "PutLogEvents")
        ],
        Need("cloudwatch:PutMetricData", ANY, "job and endpoint metrics"),
        # deployment-guardrails-configuration.html: the execution role, not the caller, needs it.
        Need(
            "cloudwatch:DescribeAlarms",
            _alarm("feecast-production-invocation-errors"),
            "SageMaker watches the auto-rollback alarms of a guarded update",
        ),
    ],
    "FeatureStoreOfflineRole": [
        Need("s3:PutObject", OFFLINE_OBJECT, "the offline store's Parquet"),
        Need("s3:GetBucketAcl", BUCKET, "Feature Store checks the bucket"),
    ],
    "MonitoringSchedulerRole": [
        Need("lambda:InvokeFunction", _fn("MonitorEndpointFunction"), "the hourly run"),
        Need(
            "sqs:SendMessage",
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:feecast-monitoring-dlq",
            "undeliverable runs",
        ),
    ],
    # ---- attached to every publisher of the notification topic (one policy, not eight copies)
    "NotificationPublisherPolicy": _notify("the notification topic"),
    # ---- people: `feecast approve | reject` (src/feecast_cli/deploy.py), by id or --package
    "ApproverPolicy": [
        Need("cloudformation:DescribeStacks", STACK, "the stack's outputs, the server's clock"),
        Need("dynamodb:Scan", _table("StateTable"), "list pending approvals (tokens left out)"),
        Need("dynamodb:DeleteItem", _table("StateTable"), "consume the approval once"),
        Need("dynamodb:GetItem", _table("StateTable"), "expired or used?"),
        Need("states:SendTaskSuccess", ANY, "resume the deployment with the decision"),
        Need("sagemaker:ListModelPackages", ANY, "pending packages; a version number -> ARN"),
        Need("sagemaker:DescribeModelPackage", PACKAGE, "its losses, its current status"),
        Need("sagemaker:UpdateModelPackage", PACKAGE, "Approved / Rejected"),
    ],
}

# The only actions that may be granted on "*": AWS's Service Authorization Reference lists no
# resource type for them (the IAM console says "only supports the all resources wildcard").
# Everything else names its resources; test_template_security.py checks they are the project's.
STAR_ACTIONS = {
    "ssm:DescribeParameters": "no resource type (SAM's SSMParameterReadPolicy adds it)",
    "cloudwatch:PutMetricData": "no resource type; bounded by a cloudwatch:namespace condition",
    "states:SendTaskSuccess": "no resource type: the caller holds a task token, not an ARN",
    "states:SendTaskFailure": "no resource type: the caller holds a task token, not an ARN",
    "ecr:GetAuthorizationToken": "no resource type (a registry login, not a repository)",
    "sagemaker:ListModelPackages": "no resource type (a List action); filtered by group name",
    **{
        a.action: "vended log delivery has no resource type; Step Functions documents '*'"
        for a in _sfn_logs()
    },
}


# -- the checks -------------------------------------------------------------------------------
def _entry_points() -> set[str]:
    kinds = {
        "AWS::Serverless::Function",
        "AWS::Serverless::StateMachine",
        "AWS::IAM::Role",
        # attached by operators to people (ApproverPolicy), or by the template to its
        # functions and state machines (NotificationPublisherPolicy)
        "AWS::IAM::ManagedPolicy",
    }
    return {lid for lid, res in RESOURCES.items() if res["Type"] in kinds}


def test_every_function_state_machine_and_role_has_its_needs_traced_here():
    assert set(NEEDS) == _entry_points(), "add the new resource's AWS calls to NEEDS"


@pytest.mark.parametrize("logical_id", sorted(NEEDS))
def test_the_template_grants_every_traced_need(logical_id):
    statements = statements_of(logical_id)
    missing = [n for n in NEEDS[logical_id] if not allows(statements, n.action, n.resource)]
    assert not missing, "\n".join(f"{n.action} on {n.resource} ({n.why})" for n in missing)


@pytest.mark.parametrize("logical_id", sorted(NEEDS))
def test_star_resources_only_for_actions_that_name_none(logical_id):
    for s in statements_of(logical_id):
        if "*" not in _as_list(s["Resource"]):
            continue
        for action in _as_list(s["Action"]):
            assert action in STAR_ACTIONS, (
                f"{logical_id}: {action} on '*': name the resource (or justify it in STAR_ACTIONS)"
            )


def test_every_star_action_allowed_is_still_used():
    used = {
        action
        for lid in NEEDS
        for s in statements_of(lid)
        if "*" in _as_list(s["Resource"])
        for action in _as_list(s["Action"])
    }
    assert set(STAR_ACTIONS) <= used, f"stale STAR_ACTIONS: {set(STAR_ACTIONS) - used}"


@pytest.mark.parametrize("logical_id", sorted(NEEDS))
def test_roles_are_passed_only_to_the_service_that_assumes_them(logical_id):
    res = RESOURCES[logical_id]
    for s in declared_statements(res["Properties"], res["Type"]):
        if "iam:PassRole" not in _as_list(s["Action"]):
            continue
        [resource] = _as_list(s["Resource"])  # one role per statement
        role, attribute = resource["Fn::GetAtt"]  # KeyError: not a role of this template
        assert (RESOURCES[role]["Type"], attribute) == ("AWS::IAM::Role", "Arn"), logical_id
        trusted = {
            st["Principal"]["Service"]
            for st in RESOURCES[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        }
        passed_to = s["Condition"]["StringEquals"]["iam:PassedToService"]
        assert passed_to in trusted, f"{logical_id} passes {role} to {passed_to}, not {trusted}"


# -- least privilege across every policy document of the template ----------------------------
def _statements_in(node: Any, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(kind, statement) of every policy document under node; KeyPolicy marks "key"."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Statement" and isinstance(value, list):
                found += [(kind, s) for s in value if isinstance(s, dict) and "Effect" in s]
            elif key != "AssumeRolePolicyDocument":  # trust policies name services
                found += _statements_in(value, "key" if key == "KeyPolicy" else kind)
    elif isinstance(node, list):
        for item in node:
            found += _statements_in(item, kind)
    return found


def _policy_statements() -> list[tuple[str, str, dict[str, Any]]]:
    """(logical id, "key" | "identity" | "resource", statement) for every policy in the template:
    roles, SAM statements and policy templates, managed policies, key and resource policies."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for lid, res in RESOURCES.items():
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            found += [(lid, "identity", s) for s in declared_statements(props, res["Type"])]
        else:
            kind = "identity" if res["Type"].startswith("AWS::IAM::") else "resource"
            found += [(lid, k, s) for k, s in _statements_in(props, kind)]
    return found


POLICY_STATEMENTS = _policy_statements()
_DENY_INSECURE = {"Bool": {"aws:SecureTransport": "false"}}

# Resources named by AWS, not by this project: fnmatch pattern (resolved) -> why it is granted.
AWS_NAMED = {
    "arn:aws:ecr:*:*:repository/forecasting-deepar": "SageMaker's DeepAR image (AWS account)",
    "arn:aws:events:*:*:rule/StepFunctionsGetEventsForSageMaker*JobsRule": "the managed rules "
    "Step Functions creates for .sync SageMaker jobs",
    "arn:aws:logs:*:*:log-group:/aws/sagemaker/*": "SageMaker names its jobs' log groups",
    "arn:aws:events:*:*:event-bus/default": "the account's default event bus (docs/events.md)",
    # The bucket's default key is the AWS managed aws/s3 key, whose id the template cannot name;
    # the statement must be bound to S3 with kms:ViaService (checked below).
    f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*": "the bucket's aws/s3 key, through S3 only",
}


def _refers_to_the_project(value: Any, variables: dict[str, Any] | None = None) -> bool:
    """A Ref/GetAtt of a template resource, or a Sub built from ProjectName or one."""
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"] in RESOURCES or value["Ref"] == "AWS::StackId"  # the stack itself
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return (target[0] if isinstance(target, list) else target.split(".")[0]) in RESOURCES
    if isinstance(value, dict) and "Fn::Sub" in value:
        text, own = (
            (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        )
        names = {n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", text)}
        return any(
            n == "ProjectName"
            or n in RESOURCES
            or (n in own and _refers_to_the_project(own[n]))
            or (variables is not None and n in variables and _refers_to_the_project(variables[n]))
            for n in names
        )
    return False


def test_no_statement_allows_every_action_of_a_service():
    for lid, kind, s in POLICY_STATEMENTS:
        for action in _as_list(s.get("Action", [])):
            wildcard = action == "*" or action.endswith(":*")
            if s["Effect"] == "Deny":
                # The one Deny that may be service-wide: refusing any request without TLS.
                assert not wildcard or s.get("Condition") == _DENY_INSECURE, (lid, s)
            else:
                assert not wildcard, f"{lid} ({kind}) allows {action}: list the actions"


def test_star_resources_only_for_actions_without_resource_types_or_in_key_policies():
    for lid, kind, s in POLICY_STATEMENTS:
        if s["Effect"] != "Allow" or "*" not in _as_list(s.get("Resource", [])):
            continue
        if kind == "key":
            continue  # a key policy's "*" is the key it is attached to
        for action in _as_list(s["Action"]):
            assert action in STAR_ACTIONS, f"{lid}: {action} on '*' (see STAR_ACTIONS)"


def test_every_other_resource_is_one_of_the_projects_or_named_by_aws():
    for lid, kind, s in POLICY_STATEMENTS:
        if s["Effect"] != "Allow" or kind == "key":
            continue
        for resource in _as_list(s.get("Resource", [])):
            if resource == "*" or _refers_to_the_project(resource):
                continue
            resolved = RESOLVER.resolve(resource)
            pattern = next((p for p in AWS_NAMED if fnmatchcase(resolved, p)), None)
            assert pattern, f"{lid}: {resolved} is neither the project's nor in AWS_NAMED"
            if pattern.startswith("arn:aws:kms:"):
                assert "kms:ViaService" in str(s.get("Condition")), f"{lid}: {resolved} unbound"


def test_the_scope_checks_are_not_vacuous():
    assert _refers_to_the_project({"Fn::Sub": "arn:aws:s3:::${ProjectName}-x/*"})
    assert _refers_to_the_project({"Fn::Sub": ["table/${T}", {"T": {"Ref": "StateTable"}}]})
    assert not _refers_to_the_project({"Fn::Sub": "arn:${AWS::Partition}:s3:::*"})
    assert not _refers_to_the_project({"Ref": "SomeoneElsesBucket"})
    assert not any(fnmatchcase("arn:aws:s3:::other-bucket/*", p) for p in AWS_NAMED)
    kinds = {kind for _, kind, _ in POLICY_STATEMENTS}
    assert kinds == {"identity", "key", "resource"}


def test_given_a_needed_statement_removed_then_the_check_reports_it():
    """The check is not vacuous: DeployEndpointFunction without its PassRole statement fails."""
    res = copy.deepcopy(RESOURCES["DeployEndpointFunction"])
    for policy in res["Properties"]["Policies"]:
        if "Statement" in policy:
            policy["Statement"] = [
                s for s in policy["Statement"] if "iam:PassRole" not in _as_list(s["Action"])
            ]
    statements = [RESOLVER.resolve(s) for s in declared_statements(res["Properties"], res["Type"])]
    assert not allows(statements, "iam:PassRole", SAGEMAKER_ROLE)
    assert allows(statements, "sagemaker:CreateModel", _sm("model/feecast-v7-x"))


def test_approvers_get_a_task_token_only_by_consuming_an_approval():
    """ApproverPolicy's DynamoDB grants: the listing Scan must project the listed fields (never
    task_token), and single items are read or deleted only under APPROVAL# (not WAITER#)."""
    from feecast.deploy.approvals import PendingApproval

    statements = statements_of("ApproverPolicy")
    by_action = {a: s for s in statements for a in _as_list(s["Action"])}
    assert {a for a in by_action if a.startswith("dynamodb:")} == {
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
    }
    scan = by_action["dynamodb:Scan"]["Condition"]
    assert scan["StringEquals"] == {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
    listed = set(scan["ForAllValues:StringEquals"]["dynamodb:Attributes"])
    assert "task_token" not in listed
    assert listed == {"pk", "sk", *PendingApproval.model_fields}  # what list_pending projects
    for action in ("dynamodb:GetItem", "dynamodb:DeleteItem"):
        assert by_action[action]["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["APPROVAL#*"]}
        }


# -- deployability: names within AWS limits with the longest parameters ----------------------
_LONGEST = {
    **DEFAULTS,
    "ProjectName": "p" + "x" * 20,  # AllowedPattern ^[a-z][a-z0-9-]{1,20}$
    "StagingStageName": "s" * 16,  # ^[a-z][a-z0-9]{1,15}$
    "ProductionStageName": "q" * 16,
}
# (type, name property) -> AWS limit
_NAME_LIMITS = {
    ("AWS::Scheduler::Schedule", "Name"): 64,
    ("AWS::SageMaker::FeatureGroup", "FeatureGroupName"): 64,
    ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName"): 63,
    ("AWS::Serverless::StateMachine", "Name"): 80,
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
    ("AWS::SQS::Queue", "QueueName"): 80,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::SecretsManager::Secret", "Name"): 512,
    ("AWS::CloudWatch::Dashboard", "DashboardName"): 255,
}


def test_named_resources_fit_aws_limits_with_the_longest_parameters():
    resolver = template_resolver(_LONGEST)
    named: list[tuple[str, str, int]] = []
    for lid, res in RESOURCES.items():
        for (type_, prop), limit in _NAME_LIMITS.items():
            if res["Type"] == type_ and prop in res["Properties"]:
                named.append((lid, resolver.resolve(res["Properties"][prop]), limit))
        for event_id, event in res.get("Properties", {}).get("Events", {}).items():
            if event["Type"] == "ScheduleV2":
                assert "Name" in event["Properties"], f"{lid}.{event_id}: name it per stack"
                named.append((event_id, resolver.resolve(event["Properties"]["Name"]), 64))
    # Names the code builds at run time from the same parameters.
    for stage in ("StagingStageName", "ProductionStageName"):
        endpoint = f"{_LONGEST['ProjectName']}-{_LONGEST[stage]}"
        named.append((f"endpoint {stage}", endpoint, 63))
        named.append((f"schedule {stage}", f"{endpoint}-monitoring", 64))
    too_long = [(lid, name, limit) for lid, name, limit in named if len(name) > limit]
    assert not too_long


def test_no_function_refers_to_the_http_api_that_routes_to_it():
    """SAM writes the function's ARN into the API's routes: a Ref back is a circular dependency."""
    for lid, res in RESOURCES.items():
        for event in res.get("Properties", {}).get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            api = event["Properties"]["ApiId"]["Ref"]
            env = res["Properties"].get("Environment", {})
            assert api not in str(env), f"{lid} refers to {api}, whose routes refer to it"


# -- docs/architecture.md's permission table agrees with the template (task tokens) ------------
def _documented_task_token_actions() -> dict[str, set[str]]:
    """Per function named in the "who | may | why" table: the states:SendTask* it says it may call."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].endswith(("Function", "StateMachine", "Role")):
            continue
        actions: set[str] = set()
        for match in re.finditer(r"SendTask(\w+(?:/\w+)*)", cells[1]):
            actions |= {f"states:SendTask{name}" for name in match.group(1).split("/")}
        for who in cells[0].split(", "):
            out[who] = actions
    return out


def test_the_task_token_calls_architecture_md_names_are_the_ones_the_template_grants() -> None:
    """docs/architecture.md once said the approval function may call SendTaskFailure; the
    template grants, and the code uses, SendTaskSuccess only (a rejection is a success)."""
    documented = _documented_task_token_actions()
    assert "ApprovalCallbackFunction" in documented and "AwaitEndpointFunction" in documented
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        granted = {
            action.lower()
            for statement in statements_of(name)
            for action in _as_list(statement["Action"])
            if action.lower().startswith("states:sendtask")
        }
        said = {a.lower() for a in documented.get(name, set())}
        assert granted == said, f"{name}: template grants {granted}, architecture.md says {said}"
