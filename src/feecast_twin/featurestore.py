"""SageMaker Feature Store in the twin: the runtime API (online store) and the offline store.

moto 5.2.5 creates feature groups but answers every `sagemaker-featurestore-runtime` call with
404 "Not yet implemented" and never writes an offline store. This module adds, the moto way:

- a moto backend + response + URL registration for the runtime service (PutRecord, GetRecord,
  BatchGetRecord, DeleteRecord), so boto3 clients in-process under `mock_aws` *and* requests
  sent to moto's server (`feecast local serve`) both work;
- small patches of moto's SageMaker feature groups: the documented ResolvedOutputS3Uri
  (`.../<account>/sagemaker/<region>/offline-store/<name>-<creation epoch>/data`), the
  OnlineStoreConfig kept and returned, ResourceNotFound for unknown groups, groups without an
  offline store;
- `FeatureStoreTwin`, the Component that writes the offline store: every record put (or delete
  marker) is buffered and written to the twin's S3 as Parquet, in SageMaker's layout, on clock
  ticks and on settle. `offline_lag_minutes` holds records back like the real offline store
  (which writes "within 15 minutes"), so readers can be tested against a store that lags.

Semantics follow the API reference: a record is written to the online store only when its event
time is not older than the stored one (older records are "historic": offline store only; on a
tie the later write wins), SoftDelete / HardDelete as documented for DeleteRecord, TtlDuration
(record level, else the group's OnlineStoreConfig.TtlDuration) hides expired records.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
import re
import secrets
import string
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse, EmptyResult

from feecast_twin.components import Component
from feecast_twin.patching import Patcher

if TYPE_CHECKING:
    from feecast_twin.host import Host

SERVICE_NAME = "sagemaker-featurestore-runtime"
URL_BASE = r"https?://featurestore-runtime\.sagemaker\.(.+)\.amazonaws\.com"
# moto.backends.get_backend(SERVICE_NAME) imports "moto.<name without dashes>"; we alias it here.
_MOTO_MODULE_NAME = "moto.sagemakerfeaturestoreruntime"
# Paths of the runtime API (botocore model sagemaker-featurestore-runtime 2020-07-01).
_RUNTIME_PATH = re.compile(r"^/(FeatureGroup/[^/]+|BatchGetRecord)/?$")

ONLINE = "OnlineStore"
OFFLINE = "OfflineStore"
_TTL_UNITS = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}
# EventTime as a String feature: exactly these two ISO-8601 forms (CreateFeatureGroup docs).
_ISO_EVENT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
_INTEGRAL = re.compile(r"^[+-]?\d+$")
_ALNUM = string.ascii_letters + string.digits


# ---------------------------------------------------------------------------------------------
# Errors, shaped as the botocore model names them (ValidationError 400, ResourceNotFound 404).
# ---------------------------------------------------------------------------------------------
class FeatureStoreValidationError(ServiceException):
    code = "ValidationError"


class FeatureStoreResourceNotFound(ServiceException):
    code = "ResourceNotFound"


# ---------------------------------------------------------------------------------------------
# Pure helpers (no moto state)
# ---------------------------------------------------------------------------------------------
def parse_event_time(value: str, feature_type: str) -> datetime:
    """The instant of an EventTime value: ISO-8601 (String) or Unix seconds (Fractional)."""
    if feature_type == "String":
        if not _ISO_EVENT_TIME.match(value):
            raise ValueError(
                f"'{value}' is not in a supported EventTime format "
                "(yyyy-MM-dd'T'HH:mm:ssZ or yyyy-MM-dd'T'HH:mm:ss.SSSZ)"
            )
        fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in value else "%Y-%m-%dT%H:%M:%SZ"
        return datetime.strptime(value, fmt).replace(tzinfo=UTC)
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a Unix timestamp in seconds") from None
    if not math.isfinite(seconds):
        raise ValueError(f"'{value}' is not a Unix timestamp in seconds")
    return datetime.fromtimestamp(seconds, UTC)


def check_feature_value(name: str, feature_type: str, value: str) -> None:
    """Raise ValueError when `value` cannot be read as the feature's type."""
    if feature_type == "Integral":
        if not _INTEGRAL.match(value) or not -(2**63) <= int(value) < 2**63:
            raise ValueError(f"The value '{value}' of feature '{name}' is not a valid Integral")
    elif feature_type == "Fractional":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(
                f"The value '{value}' of feature '{name}' is not a valid Fractional"
            ) from None
        if not math.isfinite(number):
            raise ValueError(f"The value '{value}' of feature '{name}' is not a valid Fractional")


def resolved_output_s3_uri(
    s3_uri: str, account_id: str, region: str, group_name: str, created: datetime
) -> str:
    """SageMaker's ResolvedOutputS3Uri (feature-store-offline docs, Glue table format)."""
    epoch = int(_as_utc(created).timestamp())
    return (
        f"{s3_uri.rstrip('/')}/{account_id}/sagemaker/{region}/offline-store/"
        f"{group_name}-{epoch}/data"
    )


def offline_object_key(prefix: str, event_hour: datetime, latest_event_time: datetime) -> str:
    """`<prefix>/year=/month=/day=/hour=/<latest event time>_<16 random alnum>.parquet`."""
    suffix = "".join(secrets.choice(_ALNUM) for _ in range(16))
    return (
        f"{prefix.rstrip('/')}/year={event_hour:%Y}/month={event_hour:%m}/day={event_hour:%d}"
        f"/hour={event_hour:%H}/{latest_event_time:%Y%m%dT%H%M%SZ}_{suffix}.parquet"
    )


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _as_utc(moment: datetime) -> datetime:
    # moto keeps naive UTC datetimes; the twin clock gives aware ones.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GroupView:
    """What the runtime needs to know of one feature group (read from moto's SageMaker)."""

    name: str
    arn: str
    account_id: str
    region: str
    record_identifier: str
    event_time_feature: str
    definitions: tuple[tuple[str, str], ...]  # (FeatureName, FeatureType) in definition order
    online_enabled: bool
    online_ttl: dict[str, Any] | None
    offline_uri: str | None  # ResolvedOutputS3Uri, None without an offline store

    @property
    def types(self) -> dict[str, str]:
        return dict(self.definitions)


@dataclass
class OnlineRecord:
    values: dict[str, str]  # FeatureName -> ValueAsString, in the order they were put
    event_time: datetime
    deleted: bool = False
    expires_at: datetime | None = None


@dataclass
class OfflineRow:
    group: GroupView
    values: dict[str, str]
    event_time: datetime
    api_invocation_time: datetime
    is_deleted: bool = False


def offline_table(group: GroupView, rows: list[OfflineRow], write_time: datetime) -> Any:
    """A pyarrow Table in the offline store's shape: the features typed per their definitions
    (Integral -> int64, Fractional -> float64, String -> string; absent -> null), then
    write_time, api_invocation_time (UTC timestamps) and is_deleted."""
    import pyarrow as pa

    arrow_type = {"Integral": pa.int64(), "Fractional": pa.float64(), "String": pa.string()}
    convert: dict[str, Callable[[str], Any]] = {"Integral": int, "Fractional": float, "String": str}
    columns: dict[str, Any] = {}
    for name, feature_type in group.definitions:
        raw = [row.values.get(name) for row in rows]
        columns[name] = pa.array(
            [None if value is None else convert[feature_type](value) for value in raw],
            type=arrow_type[feature_type],
        )
    stamp = pa.timestamp("ms", tz="UTC")
    columns["write_time"] = pa.array([_as_utc(write_time)] * len(rows), type=stamp)
    columns["api_invocation_time"] = pa.array(
        [_as_utc(row.api_invocation_time) for row in rows], type=stamp
    )
    columns["is_deleted"] = pa.array([row.is_deleted for row in rows], type=pa.bool_())
    return pa.table(columns)


# ---------------------------------------------------------------------------------------------
# The moto backend
# ---------------------------------------------------------------------------------------------
class FeatureStoreRuntimeBackend(BaseBackend):
    """Online store records and the not-yet-written offline rows of one account and region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.online: dict[str, dict[str, OnlineRecord]] = defaultdict(dict)  # group ARN -> id
        self.pending: list[OfflineRow] = []
        self.lock = threading.RLock()

    @property
    def _url_module(self) -> Any:  # moto reads url_bases / url_paths from here
        return _URLS

    # -- feature groups ----------------------------------------------------------------------
    def group(self, name_or_arn: str) -> GroupView:
        from moto.sagemaker.models import sagemaker_backends

        sagemaker = sagemaker_backends[self.account_id][self.region_name]
        wanted = name_or_arn.lower()
        for arn, feature_group in sagemaker.feature_groups.items():
            if wanted in (arn.lower(), feature_group.feature_group_name.lower()):
                return _group_view(feature_group, self.account_id, self.region_name)
        raise FeatureStoreResourceNotFound(
            f"Resource not found: FeatureGroup {name_or_arn} does not exist."
        )

    def _stores(self, group: GroupView, target_stores: list[str] | None) -> set[str]:
        enabled = {ONLINE} if group.online_enabled else set()
        if group.offline_uri:
            enabled.add(OFFLINE)
        if not target_stores:
            return enabled
        for store in target_stores:
            if store not in enabled:
                raise FeatureStoreValidationError(
                    f"TargetStores contains {store}, which is not enabled for "
                    f"FeatureGroup {group.name}."
                )
        return set(target_stores)

    @staticmethod
    def _ttl(ttl: dict[str, Any] | None) -> timedelta | None:
        if not ttl:
            return None
        unit, value = ttl.get("Unit"), ttl.get("Value")
        if unit not in _TTL_UNITS or not isinstance(value, int) or value < 1:
            raise FeatureStoreValidationError(
                f"Invalid TtlDuration {ttl}: Unit must be one of {sorted(_TTL_UNITS)} "
                "and Value a positive integer."
            )
        return timedelta(seconds=_TTL_UNITS[unit] * value)

    def _event_time(self, group: GroupView, value: str) -> datetime:
        try:
            return parse_event_time(value, group.types[group.event_time_feature])
        except ValueError as error:
            raise FeatureStoreValidationError(
                f"Invalid value for EventTime feature {group.event_time_feature}: {error}"
            ) from None

    def _check_feature_names(self, group: GroupView, names: list[str] | None) -> None:
        unknown = [name for name in names or [] if name not in group.types]
        if unknown:
            raise FeatureStoreValidationError(
                f"The feature names {unknown} are not defined in FeatureGroup {group.name}."
            )

    # -- the API -----------------------------------------------------------------------------
    def put_record(
        self,
        group_name: str,
        record: list[dict[str, Any]],
        target_stores: list[str] | None,
        ttl_duration: dict[str, Any] | None,
    ) -> None:
        group = self.group(group_name)
        types = group.types
        values: dict[str, str] = {}
        for feature in record or []:
            name = feature.get("FeatureName")
            if name not in types:
                raise FeatureStoreValidationError(
                    f"The feature name '{name}' is not defined in FeatureGroup {group.name}."
                )
            if name in values:
                raise FeatureStoreValidationError(
                    f"The feature '{name}' appears more than once in the record."
                )
            if feature.get("ValueAsStringList") is not None:
                raise FeatureStoreValidationError(
                    f"ValueAsStringList given for feature '{name}': collection features are "
                    "not supported by the twin."
                )
            value = feature.get("ValueAsString")
            if value is None:
                raise FeatureStoreValidationError(f"The feature '{name}' has no ValueAsString.")
            try:
                check_feature_value(name, types[name], value)
            except ValueError as error:
                raise FeatureStoreValidationError(str(error)) from None
            values[name] = value
        for required, role in (
            (group.record_identifier, "RecordIdentifierFeatureName"),
            (group.event_time_feature, "EventTimeFeatureName"),
        ):
            if required not in values:
                raise FeatureStoreValidationError(
                    f"The record is missing the feature '{required}' ({role} of FeatureGroup "
                    f"{group.name})."
                )
        event_time = self._event_time(group, values[group.event_time_feature])
        stores = self._stores(group, target_stores)
        ttl = self._ttl(ttl_duration) or self._ttl(group.online_ttl)
        now = datetime.now(UTC)
        with self.lock:
            if ONLINE in stores:
                records = self.online[group.arn]
                existing = records.get(values[group.record_identifier])
                # Older event time = historic record: offline store only (PutRecord docs).
                if existing is None or event_time >= existing.event_time:
                    records[values[group.record_identifier]] = OnlineRecord(
                        values=dict(values),
                        event_time=event_time,
                        expires_at=event_time + ttl if ttl else None,
                    )
            if OFFLINE in stores:
                self.pending.append(OfflineRow(group, dict(values), event_time, now))

    def _live(self, group: GroupView, record_id: str) -> OnlineRecord | None:
        record = self.online.get(group.arn, {}).get(record_id)
        if record is None or record.deleted:
            return None
        if record.expires_at is not None and datetime.now(UTC) >= record.expires_at:
            return None
        return record

    def _read(
        self, group: GroupView, record_id: str, feature_names: list[str] | None
    ) -> tuple[list[dict[str, str]], datetime | None] | None:
        if not group.online_enabled:
            raise FeatureStoreValidationError(
                f"FeatureGroup {group.name} has no OnlineStore (EnableOnlineStore is false)."
            )
        with self.lock:
            record = self._live(group, record_id)
            if record is None:
                return None
            chosen = [
                {"FeatureName": name, "ValueAsString": value}
                for name, value in record.values.items()
                if not feature_names or name in feature_names
            ]
            return chosen, record.expires_at

    def get_record(
        self,
        group_name: str,
        record_id: str,
        feature_names: list[str] | None,
        expiration_time_response: str | None,
    ) -> dict[str, Any]:
        group = self.group(group_name)
        self._check_feature_names(group, feature_names)
        found = self._read(group, record_id, feature_names)
        if found is None or not found[0]:
            return {}  # AWS answers 200 without a Record
        result: dict[str, Any] = {"Record": found[0]}
        if expiration_time_response == "Enabled" and found[1] is not None:
            result["ExpiresAt"] = _iso(found[1])
        return result

    def batch_get_record(
        self, identifiers: list[dict[str, Any]], expiration_time_response: str | None
    ) -> dict[str, Any]:
        records: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for identifier in identifiers:
            name = identifier["FeatureGroupName"]
            ids = identifier["RecordIdentifiersValueAsString"]
            feature_names = identifier.get("FeatureNames")
            try:
                group = self.group(name)
                self._check_feature_names(group, feature_names)
                found = [
                    (record_id, self._read(group, record_id, feature_names)) for record_id in ids
                ]
            except (FeatureStoreResourceNotFound, FeatureStoreValidationError) as error:
                errors.extend(
                    {
                        "FeatureGroupName": name,
                        "RecordIdentifierValueAsString": record_id,
                        "ErrorCode": error.code,
                        "ErrorMessage": error.message,
                    }
                    for record_id in ids
                )
                continue
            for record_id, result in found:
                if result is None or not result[0]:
                    continue  # not found: simply absent, as GetRecord answers nothing
                detail: dict[str, Any] = {
                    "FeatureGroupName": name,
                    "RecordIdentifierValueAsString": record_id,
                    "Record": result[0],
                }
                if expiration_time_response == "Enabled" and result[1] is not None:
                    detail["ExpiresAt"] = _iso(result[1])
                records.append(detail)
        return {"Records": records, "Errors": errors, "UnprocessedIdentifiers": []}

    def delete_record(
        self,
        group_name: str,
        record_id: str,
        event_time_value: str,
        target_stores: list[str] | None,
        deletion_mode: str | None,
    ) -> None:
        group = self.group(group_name)
        mode = deletion_mode or "SoftDelete"
        if mode not in ("SoftDelete", "HardDelete"):
            raise FeatureStoreValidationError(
                f"DeletionMode {mode} is not one of SoftDelete, HardDelete."
            )
        event_time = self._event_time(group, event_time_value)
        stores = self._stores(group, target_stores)
        now = datetime.now(UTC)
        with self.lock:
            if ONLINE in stores:
                records = self.online[group.arn]
                existing = records.get(record_id)
                if existing is not None and event_time <= existing.event_time:
                    # DeleteRecord docs: the delete's EventTime must be later than the record's.
                    if mode == "HardDelete":
                        raise FeatureStoreValidationError(
                            f"EventTime {event_time_value} of the delete is not later than the "
                            f"EventTime of the existing record {record_id}."
                        )
                    # SoftDelete: the record stays online; the marker still goes offline.
                elif existing is not None and mode == "HardDelete":
                    del records[record_id]
                elif existing is not None:
                    records[record_id] = OnlineRecord(
                        values={
                            group.record_identifier: record_id,
                            group.event_time_feature: event_time_value,
                        },
                        event_time=event_time,
                        deleted=True,
                    )
            if OFFLINE in stores:
                marker = {
                    group.record_identifier: record_id,
                    group.event_time_feature: event_time_value,
                }
                self.pending.append(OfflineRow(group, marker, event_time, now, is_deleted=True))

    # -- offline store -----------------------------------------------------------------------
    def take_due(self, cutoff: datetime) -> list[OfflineRow]:
        """Remove and return the buffered rows received at or before `cutoff`."""
        with self.lock:
            due = [row for row in self.pending if row.api_invocation_time <= cutoff]
            self.pending = [row for row in self.pending if row.api_invocation_time > cutoff]
            return due

    def give_back(self, rows: list[OfflineRow]) -> None:
        with self.lock:
            self.pending[:0] = rows


def _literal(value: Any) -> bool:
    """True when a template value holds no intrinsic function (Ref, Fn::*, Condition)."""
    if isinstance(value, dict):
        return not any(k == "Ref" or k.startswith("Fn::") for k in value) and all(
            _literal(v) for v in value.values()
        )
    if isinstance(value, list):
        return all(_literal(v) for v in value)
    return True


def _group_view(feature_group: Any, account_id: str, region: str) -> GroupView:
    offline = getattr(feature_group, "offline_store_config", None) or None
    online = getattr(feature_group, "twin_online_store_config", None)
    offline_uri = None
    if offline and offline.get("S3StorageConfig", {}).get("S3Uri"):
        offline_uri = resolved_output_s3_uri(
            offline["S3StorageConfig"]["S3Uri"],
            account_id,
            region,
            feature_group.feature_group_name,
            feature_group.creation_time,
        )
    return GroupView(
        name=feature_group.feature_group_name,
        arn=feature_group.arn,
        account_id=account_id,
        region=region,
        record_identifier=feature_group.record_identifier_feature_name,
        event_time_feature=feature_group.event_time_feature_name,
        definitions=tuple(
            (definition["FeatureName"], definition["FeatureType"])
            for definition in feature_group.feature_definitions
        ),
        # Groups created before install() have no captured config: assume the online store.
        online_enabled=str(online.get("EnableOnlineStore", False)).lower() == "true"
        if online
        else online is None,
        online_ttl=(online or {}).get("TtlDuration"),
        offline_uri=offline_uri,
    )


# Regions: boto3 lists none for the runtime's own endpoint name; they are SageMaker's.
sagemakerfeaturestoreruntime_backends = BackendDict(FeatureStoreRuntimeBackend, "sagemaker")


def _backends() -> Iterator[FeatureStoreRuntimeBackend]:
    for account_backends in list(sagemakerfeaturestoreruntime_backends.values()):
        yield from list(account_backends.values())


# ---------------------------------------------------------------------------------------------
# The moto response (rest-json, parsed and serialised from the botocore model)
# ---------------------------------------------------------------------------------------------
class FeatureStoreRuntimeResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name=SERVICE_NAME)
        self.automated_parameter_parsing = True

    @property
    def backend(self) -> FeatureStoreRuntimeBackend:
        return sagemakerfeaturestoreruntime_backends[self.current_account][self.region]

    def put_record(self) -> ActionResult:
        self.backend.put_record(
            self._get_param("FeatureGroupName"),
            self._get_param("Record"),
            self._get_param("TargetStores"),
            self._get_param("TtlDuration"),
        )
        return EmptyResult()

    def get_record(self) -> ActionResult:
        return ActionResult(
            self.backend.get_record(
                self._get_param("FeatureGroupName"),
                self._get_param("RecordIdentifierValueAsString"),
                self._get_param("FeatureNames"),
                self._get_param("ExpirationTimeResponse"),
            )
        )

    def batch_get_record(self) -> ActionResult:
        return ActionResult(
            self.backend.batch_get_record(
                self._get_param("Identifiers"), self._get_param("ExpirationTimeResponse")
            )
        )

    def delete_record(self) -> ActionResult:
        self.backend.delete_record(
            self._get_param("FeatureGroupName"),
            self._get_param("RecordIdentifierValueAsString"),
            self._get_param("EventTime"),
            self._get_param("TargetStores"),
            self._get_param("DeletionMode"),
        )
        return EmptyResult()


_URLS = SimpleNamespace(
    url_bases=[URL_BASE],
    url_paths={
        "{0}/FeatureGroup/(?P<FeatureGroupName>[^/]+)$": FeatureStoreRuntimeResponse.dispatch,
        "{0}/BatchGetRecord$": FeatureStoreRuntimeResponse.dispatch,
    },
)


# ---------------------------------------------------------------------------------------------
# Registration in moto and the SageMaker feature-group patches
# ---------------------------------------------------------------------------------------------
def register_runtime_service(patches: Patcher) -> None:
    """Make moto route sagemaker-featurestore-runtime to our backend (in-process and server)."""
    import moto.backend_index as backend_index

    patches.add_item(
        sys,
        "modules",
        _MOTO_MODULE_NAME,
        sys.modules[__name__],
        reason="moto 5.2.5 answers the Feature Store runtime API with 404; moto imports a "
        "service's backend from a module named after the service",
    )
    entry = (SERVICE_NAME, re.compile(URL_BASE))
    if all(service != SERVICE_NAME for service, _ in backend_index.backend_url_patterns):
        # Same list object the server's dispatcher holds, so both modes see it.
        patches.add_item(
            backend_index,
            "backend_url_patterns",
            SERVICE_NAME,
            entry,
            reason="requests to the Feature Store runtime's endpoint reach the twin's backend",
        )

    if importlib.util.find_spec("flask") is None:
        return  # moto[server] not installed: in-process mode only (importing would warn)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original_infer = DomainDispatcherApplication.infer_service_region_host

    def infer_service_region_host(self: Any, environ: dict[str, Any], path: str) -> str | None:
        # Server mode: the runtime signs as "sagemaker", which moto sends to the control plane.
        host = original_infer(self, environ, path)
        if host and host.startswith("api.sagemaker.") and _RUNTIME_PATH.match(path or ""):
            region = host[len("api.sagemaker.") : -len(".amazonaws.com")]
            return f"featurestore-runtime.sagemaker.{region}.amazonaws.com"
        return host

    patches.replace(
        DomainDispatcherApplication,
        "infer_service_region_host",
        infer_service_region_host,
        reason="the runtime signs as sagemaker; moto's server would send its calls to the "
        "control plane",
    )


def patch_feature_groups(patches: Patcher) -> None:
    """Fix what moto's SageMaker gets wrong about feature groups (see the module docstring)."""
    from moto.sagemaker import models as sagemaker_models
    from moto.sagemaker.exceptions import ResourceNotFound
    from moto.sagemaker.responses import SageMakerResponse

    feature_group_cls = sagemaker_models.FeatureGroup
    original_init = feature_group_cls.__init__
    original_describe = feature_group_cls.describe
    original_create = SageMakerResponse.create_feature_group
    original_backend_describe = sagemaker_models.SageMakerModelBackend.describe_feature_group

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("offline_store_config") is None:  # moto crashes on online-only groups
            kwargs["offline_store_config"] = {"S3StorageConfig": {"S3Uri": ""}}
            original_init(self, *args, **kwargs)
            self.offline_store_config = None
            return
        original_init(self, *args, **kwargs)

    def describe(self: Any) -> dict[str, Any]:
        result = dict(original_describe(self))
        _, _, _, region, account_id, _ = self.arn.split(":", 5)
        offline = self.offline_store_config
        if offline:
            offline = {**offline, "S3StorageConfig": dict(offline["S3StorageConfig"])}
            offline["S3StorageConfig"]["ResolvedOutputS3Uri"] = resolved_output_s3_uri(
                offline["S3StorageConfig"]["S3Uri"],
                account_id,
                region,
                self.feature_group_name,
                self.creation_time,
            )
            result["OfflineStoreConfig"] = offline
            result["OfflineStoreStatus"] = {"Status": "Active"}
        else:
            result.pop("OfflineStoreConfig", None)
        online = getattr(self, "twin_online_store_config", None)
        if online:
            result["OnlineStoreConfig"] = online
        description = getattr(self, "twin_description", None)
        if description:
            result["Description"] = description
        return result

    def create_feature_group(self: Any) -> Any:
        result = original_create(self)
        backend = self.sagemaker_backend
        name = self._get_param("FeatureGroupName")
        for feature_group in backend.feature_groups.values():
            if feature_group.feature_group_name == name:
                feature_group.twin_online_store_config = self._get_param("OnlineStoreConfig") or {
                    "EnableOnlineStore": False
                }
                feature_group.twin_description = self._get_param("Description")
        return result

    def describe_feature_group(self: Any, feature_group_name: str) -> dict[str, Any]:
        try:
            return original_backend_describe(self, feature_group_name)
        except KeyError:
            raise ResourceNotFound(
                f"Resource Not Found: FeatureGroup {feature_group_name} does not exist."
            ) from None

    patches.replace(
        feature_group_cls,
        "__init__",
        __init__,
        reason="SageMaker accepts a feature group without an offline store; moto crashes on one",
    )
    patches.replace(
        feature_group_cls,
        "describe",
        describe,
        reason="DescribeFeatureGroup returns ResolvedOutputS3Uri, OnlineStoreConfig and "
        "Description; moto omits them",
    )
    patches.replace(
        SageMakerResponse,
        "create_feature_group",
        create_feature_group,
        reason="SageMaker keeps a feature group's OnlineStoreConfig and Description; "
        "moto drops them",
    )
    patches.replace(
        sagemaker_models.SageMakerModelBackend,
        "describe_feature_group",
        describe_feature_group,
        reason="SageMaker answers an unknown feature group with ResourceNotFound; "
        "moto raises KeyError",
    )


# ---------------------------------------------------------------------------------------------
# The Component
# ---------------------------------------------------------------------------------------------
@dataclass
class _FlushReport:
    files: list[str] = field(default_factory=list)
    rows: int = 0


class FeatureStoreTwin(Component):
    """Feature Store runtime + offline store writer of the twin.

    `offline_lag_minutes` (default 0, or env FEECAST_TWIN_OFFLINE_LAG_MINUTES): a record reaches
    the offline store at the first clock tick (or settle) at least that many minutes after it was
    put. 0 = every tick / settle writes everything buffered.
    """

    name = "featurestore"

    def __init__(self, twin: Host, offline_lag_minutes: float | None = None) -> None:
        super().__init__(twin)
        if offline_lag_minutes is None:
            offline_lag_minutes = float(os.environ.get("FEECAST_TWIN_OFFLINE_LAG_MINUTES", "0"))
        self.offline_lag_minutes = offline_lag_minutes
        self._patches = Patcher("feecast_twin.featurestore")
        self._flush_lock = threading.Lock()
        self._reported_errors: set[str] = set()

    def install(self, twin: Host) -> None:
        register_runtime_service(self._patches)
        patch_feature_groups(self._patches)
        self._adopt_template_feature_groups()

    def _adopt_template_feature_groups(self) -> None:
        """Feature groups the template created before install() went through unpatched moto,
        which drops OnlineStoreConfig and Description: take them from the template."""
        from moto.sagemaker.models import sagemaker_backends

        template = getattr(self.twin, "template", None)
        if template is None:
            return
        groups = sagemaker_backends[self.twin.account_id][self.twin.region].feature_groups
        by_name = {group.feature_group_name: group for group in groups.values()}
        for logical_id, resource in template.resources.items():
            if resource.type != "AWS::SageMaker::FeatureGroup":
                continue
            try:
                group = by_name.get(str(self.twin.physical_id(logical_id)))
            except Exception:  # not deployed (condition false)
                continue
            if group is None or hasattr(group, "twin_online_store_config"):
                continue
            online = resource.properties.get("OnlineStoreConfig")
            if online is None:
                group.twin_online_store_config = {"EnableOnlineStore": False}
            elif _literal(online):  # intrinsics inside: leave unknown (= online store on)
                group.twin_online_store_config = online
            description = resource.properties.get("Description")
            if isinstance(description, str):
                group.twin_description = description

    def uninstall(self) -> None:
        self._patches.undo()

    def on_tick(self, now: datetime) -> None:
        self.flush(now)

    def busy(self) -> bool:
        # Settle writes whatever is due now instead of waiting for a tick that never comes.
        self.flush(self.twin.clock.now())
        return False

    def flush(self, now: datetime, lag_minutes: float | None = None) -> _FlushReport:
        """Write every buffered row put at least `lag_minutes` before `now` as Parquet to S3."""
        lag = self.offline_lag_minutes if lag_minutes is None else lag_minutes
        now = _as_utc(now)
        report = _FlushReport()
        with self._flush_lock:
            for backend in _backends():
                due = backend.take_due(now - timedelta(minutes=lag))
                if due:
                    self._write(backend, due, now, report)
        return report

    @property
    def pending_rows(self) -> int:
        """Rows put but not yet in the offline store (all accounts and regions)."""
        return sum(len(backend.pending) for backend in _backends())

    def _write(
        self,
        backend: FeatureStoreRuntimeBackend,
        rows: list[OfflineRow],
        now: datetime,
        report: _FlushReport,
    ) -> None:
        import pyarrow.parquet as pq
        from moto.s3.models import s3_backends

        batches: dict[tuple[str, datetime], list[OfflineRow]] = defaultdict(list)
        for row in rows:
            hour = _as_utc(row.event_time).replace(minute=0, second=0, microsecond=0)
            batches[(row.group.arn, hour)].append(row)
        failed: list[OfflineRow] = []
        for (_, hour), batch in batches.items():
            group = batch[0].group
            assert group.offline_uri is not None
            bucket, prefix = split_s3_uri(group.offline_uri)
            latest = max(_as_utc(row.event_time) for row in batch)
            key = offline_object_key(prefix, hour, latest)
            buffer = io.BytesIO()
            pq.write_table(offline_table(group, batch, now), buffer)
            try:
                s3_backends[group.account_id]["global"].put_object(bucket, key, buffer.getvalue())
            except Exception as error:  # a missing bucket must not break the clock
                failed.extend(batch)
                message = f"{group.name}: cannot write s3://{bucket}/{key}: {error!r}"
                if message not in self._reported_errors:
                    self._reported_errors.add(message)
                    self.twin.record("feature-store-error", group=group.name, error=message)
                continue
            report.files.append(f"s3://{bucket}/{key}")
            report.rows += len(batch)
            self.twin.record(
                "feature-store-offline",
                group=group.name,
                uri=f"s3://{bucket}/{key}",
                rows=len(batch),
            )
        if failed:
            backend.give_back(failed)
