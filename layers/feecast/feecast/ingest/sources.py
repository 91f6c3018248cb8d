"""Where transactions come from: small adapters behind one `Source` interface.

- `BlockchainInfoSource`: https://blockchain.info/unconfirmed-transactions?format=json, the last
  unconfirmed transactions (hash, fee in satoshi, size, weight, time in epoch seconds). The
  source the original system used.
- `MempoolSpaceSource`: https://mempool.space/api/mempool/recent (txid, fee, vsize, value). It
  carries no timestamp, so a transaction's event time is the poll time (documented in
  docs/ingest.md): good to a few seconds, since that list only holds the last ~10 arrivals.
- `FileSource`: JSON Lines of blockchain.info transactions (recorded or synthetic), read in
  chunks; what `feecast ingest replay` feeds through the same pipeline as the scheduled function.

Each transaction is validated with pydantic; a malformed one is skipped and counted. A response
that is not the documented shape raises `SourceFormatError` (not retried: the source changed);
network trouble raises `SourceUnavailable` (retried with back-off by the pipeline). HTTP goes
through a `Transport` (urllib by default: no dependency in the layer) that tests replace.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from feecast.ingest.model import Transaction

BLOCKCHAIN_INFO_URL = "https://blockchain.info/unconfirmed-transactions?format=json"
MEMPOOL_SPACE_URL = "https://mempool.space/api/mempool/recent"
# Bitcoin's genesis block: anything earlier is not a transaction time.
_GENESIS = 1231006505
# A transaction stamped this far after the poll is not believed (clock or format problem).
MAX_FUTURE_SECONDS = 300
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_HEX64 = r"^[0-9a-fA-F]{64}$"


class SourceError(RuntimeError):
    """The source could not be read; `retryable` says whether trying again may help."""

    retryable = False


class SourceUnavailable(SourceError):
    """Network trouble, timeout, HTTP 429 or 5xx: worth retrying later."""

    retryable = True


class SourceFormatError(SourceError):
    """The answer is not the documented format (or the endpoint moved): retrying won't help."""


@dataclass
class PollResult:
    """What one poll (or one chunk of a file) produced."""

    transactions: list[Transaction]
    received: int  # items in the answer, valid or not
    malformed: int = 0
    problems: list[str] = field(default_factory=list)  # a few examples, for the log

    @property
    def looks_like_format_change(self) -> bool:
        """Every item failed validation: the source most likely changed its format."""
        return self.received > 0 and self.malformed == self.received


class Transport(Protocol):
    def get(self, url: str, timeout: float) -> bytes: ...


class Source(Protocol):
    """A source of transactions. `poll` returns None once a finite source is exhausted."""

    @property
    def name(self) -> str: ...

    def poll(self, poll_time: int) -> PollResult | None: ...


class UrllibTransport:
    """HTTP GET with the standard library; maps failures onto the SourceError kinds."""

    def __init__(self, user_agent: str = "feecast-ingest/1.0") -> None:
        self.user_agent = user_agent

    def get(self, url: str, timeout: float) -> bytes:
        request = urllib.request.Request(
            url, headers={"User-Agent": self.user_agent, "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                raise SourceUnavailable(f"HTTP {exc.code} from {url}") from exc
            raise SourceFormatError(
                f"HTTP {exc.code} from {url}: endpoint moved or refused"
            ) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceUnavailable(f"cannot reach {url}: {reason}") from exc
        if len(body) > MAX_RESPONSE_BYTES:
            raise SourceFormatError(f"answer from {url} is larger than {MAX_RESPONSE_BYTES} bytes")
        return body


# -- formats ------------------------------------------------------------------------------------
class BlockchainInfoTx(BaseModel):
    """One transaction of blockchain.info's unconfirmed-transactions (other keys ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    hash: str = Field(pattern=_HEX64)
    fee: StrictInt = Field(ge=0)
    size: StrictInt = Field(gt=0)
    weight: StrictInt | None = Field(default=None, gt=0)
    time: StrictInt = Field(ge=_GENESIS)

    def to_transaction(self) -> Transaction:
        vsize = math.ceil(self.weight / 4) if self.weight else self.size
        return Transaction(tx_id=self.hash.lower(), fee=self.fee, time=self.time, vsize=vsize)


class MempoolSpaceTx(BaseModel):
    """One item of mempool.space's /api/mempool/recent (no timestamp in that format)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    txid: str = Field(pattern=_HEX64)
    fee: StrictInt = Field(ge=0)
    vsize: float = Field(gt=0)
    value: StrictInt = Field(ge=0)

    def to_transaction(self, poll_time: int) -> Transaction:
        return Transaction(
            tx_id=self.txid.lower(),
            fee=self.fee,
            time=poll_time,
            vsize=self.vsize,
            time_is_poll_time=True,
        )


_MAX_PROBLEMS = 3


def _short_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"]) or "item"
    return f"{where}: {err['msg']}"


def _validate_items(
    items: list[Any],
    convert: Callable[[Any], Transaction],
    poll_time: int | None,
) -> PollResult:
    result = PollResult(transactions=[], received=len(items))
    for index, item in enumerate(items):
        problem: str | None = None
        try:
            tx = convert(item)
        except ValidationError as exc:
            problem = f"item {index}: {_short_error(exc)}"
        else:
            if poll_time is not None and tx.time > poll_time + MAX_FUTURE_SECONDS:
                problem = f"item {index}: time {tx.time} is after the poll time {poll_time}"
            else:
                result.transactions.append(tx)
        if problem is not None:
            result.malformed += 1
            if len(result.problems) < _MAX_PROBLEMS:
                result.problems.append(problem)
    return result


def _json(body: bytes, source: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFormatError(f"{source}: answer is not JSON ({exc})") from exc


def parse_blockchain_info(body: bytes, poll_time: int | None = None) -> PollResult:
    """`{"txs": [...]}` -> transactions; malformed items counted, shape changes raised."""
    payload = _json(body, "blockchain.info")
    if not isinstance(payload, dict) or not isinstance(payload.get("txs"), list):
        keys = sorted(payload)[:10] if isinstance(payload, dict) else type(payload).__name__
        raise SourceFormatError(
            f"blockchain.info: expected an object with a 'txs' list, got {keys}"
        )
    return _validate_items(
        payload["txs"],
        lambda item: BlockchainInfoTx.model_validate(item).to_transaction(),
        poll_time,
    )


def parse_mempool_space(body: bytes, poll_time: int) -> PollResult:
    """`[{"txid", "fee", "vsize", "value"}, ...]` -> transactions stamped with the poll time."""
    payload = _json(body, "mempool.space")
    if not isinstance(payload, list):
        raise SourceFormatError(
            f"mempool.space: expected a list of transactions, got {type(payload).__name__}"
        )
    return _validate_items(
        payload,
        lambda item: MempoolSpaceTx.model_validate(item).to_transaction(poll_time),
        None,  # stamped with the poll time: never in the future
    )


# -- sources ------------------------------------------------------------------------------------
@dataclass
class HttpSource:
    """An HTTP JSON source: one GET per poll through the transport, then the format's parser."""

    url: str
    transport: Transport = field(default_factory=UrllibTransport)
    timeout: float = 5.0
    name: ClassVar[str] = "http"

    def parse(self, body: bytes, poll_time: int) -> PollResult:
        raise NotImplementedError

    def poll(self, poll_time: int) -> PollResult:
        return self.parse(self.transport.get(self.url, self.timeout), poll_time)


@dataclass
class BlockchainInfoSource(HttpSource):
    url: str = BLOCKCHAIN_INFO_URL
    name: ClassVar[str] = "blockchain.info"

    def parse(self, body: bytes, poll_time: int) -> PollResult:
        return parse_blockchain_info(body, poll_time)


@dataclass
class MempoolSpaceSource(HttpSource):
    url: str = MEMPOOL_SPACE_URL
    name: ClassVar[str] = "mempool.space"

    def parse(self, body: bytes, poll_time: int) -> PollResult:
        return parse_mempool_space(body, poll_time)


SOURCES: dict[str, type[HttpSource]] = {
    BlockchainInfoSource.name: BlockchainInfoSource,
    MempoolSpaceSource.name: MempoolSpaceSource,
}


def make_source(
    name: str, url: str = "", *, transport: Transport | None = None, timeout: float = 5.0
) -> HttpSource:
    """The live source called `name` (blockchain.info, mempool.space), at `url` if given."""
    try:
        cls = SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}: choose one of {sorted(SOURCES)}") from None
    kwargs: dict[str, Any] = {"timeout": timeout}
    if url:
        kwargs["url"] = url
    if transport is not None:
        kwargs["transport"] = transport
    return cls(**kwargs)


class FileSource:
    """JSON Lines of blockchain.info transactions, `chunk_size` lines per poll.

    A line that is not JSON, or not a valid transaction, is counted as malformed; blank lines
    are skipped. Event times come from the lines (poll_time is not used).
    """

    name = "file"

    def __init__(self, path: str | Path, chunk_size: int = 20_000) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such transactions file: {self.path}")
        self.chunk_size = chunk_size
        self._lines: Iterator[tuple[int, str]] | None = None

    def _iter_lines(self) -> Iterator[tuple[int, str]]:
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield number, line

    def poll(self, poll_time: int) -> PollResult | None:
        if self._lines is None:
            self._lines = self._iter_lines()
        result = PollResult(transactions=[], received=0)
        for number, line in self._lines:
            result.received += 1
            try:
                tx = BlockchainInfoTx.model_validate_json(line).to_transaction()
            except ValidationError as exc:
                result.malformed += 1
                if len(result.problems) < _MAX_PROBLEMS:
                    result.problems.append(f"{self.path.name}:{number}: {_short_error(exc)}")
            else:
                result.transactions.append(tx)
            if result.received >= self.chunk_size:
                break
        return result if result.received else None
