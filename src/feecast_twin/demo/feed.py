"""A SYNTHETIC live transaction source for the demo: blockchain.info's format, on the twin clock.

The scheduled collector polls a URL (template parameter IngestSourceUrl); the demo points it
here. `GET /unconfirmed-transactions?format=json` answers `{"txs": [...]}` with the synthetic
transactions stamped in the last `lookback` seconds of the twin's "now", newest first, as
blockchain.info lists recent unconfirmed transactions. The stream comes from
feecast.ingest.synthetic, generated an hour at a time (seeded per hour, so runs repeat), and a
regime change (from a time on, fees x N in the first half of every hour) can be set while it
runs: hours not yet served are regenerated with it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/unconfirmed-transactions"


class SyntheticFeed:
    def __init__(
        self,
        *,
        seed: int,
        rate_per_second: float,
        now: Callable[[], datetime] | None = None,
        lookback_seconds: int = 150,
        max_items: int | None = None,
    ) -> None:
        self.seed = seed
        self.rate = rate_per_second
        self.now = now or (lambda: datetime.now(UTC))
        self.lookback = lookback_seconds
        self.max_items = max_items
        self.regime_change_at: datetime | None = None
        self.fee_multiplier = 1.0
        self.requests = 0
        self._hours: dict[datetime, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the stream
    def set_regime_change(self, at: datetime, fee_multiplier: float) -> None:
        """From `at` on, fees are multiplied; hours from `at` are regenerated."""
        with self._lock:
            self.regime_change_at = at.astimezone(UTC)
            self.fee_multiplier = fee_multiplier
            first = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            for hour in [h for h in self._hours if h >= first]:
                del self._hours[hour]

    def _hour(self, hour: datetime) -> list[dict[str, Any]]:
        """One hour of transactions. After the regime change, fees are multiplied in the first
        half of every hour and normal in the second: a congestion cycle a model trained before
        it has never seen (a plain level shift would not do: DeepAR rescales every forecast
        by its context, so it follows a new level within one context window)."""
        if hour not in self._hours:
            from feecast.ingest.synthetic import config_for, generate

            index = int(hour.timestamp() // 3600)
            txs: list[dict[str, Any]] = []
            for half in (0, 1):
                start = hour + timedelta(minutes=30 * half)
                drifted = (
                    self.regime_change_at is not None
                    and half == 0
                    and start + timedelta(minutes=30) > self.regime_change_at
                )
                config = config_for(
                    start,
                    1 / 48,
                    seed=(self.seed * 1_000_003 + index * 2 + half) % (2**32),
                    rate_per_second=self.rate,
                    regime_change_at=max(start, self.regime_change_at) if drifted else None,  # type: ignore[type-var]
                    fee_multiplier=self.fee_multiplier,
                )
                txs += generate(config)
            self._hours[hour] = sorted(txs, key=lambda tx: tx["time"])
            for old in [h for h in self._hours if h < hour - timedelta(hours=2)]:
                del self._hours[old]
        return self._hours[hour]

    def recent(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """The transactions of the last `lookback` seconds before `now`, newest first."""
        now = (now or self.now()).astimezone(UTC)
        since = now - timedelta(seconds=self.lookback)
        end, start = now.timestamp(), since.timestamp()
        out: list[dict[str, Any]] = []
        with self._lock:
            hour = since.replace(minute=0, second=0, microsecond=0)
            while hour <= now:
                out += [tx for tx in self._hour(hour) if start < tx["time"] <= end]
                hour += timedelta(hours=1)
        out.sort(key=lambda tx: tx["time"], reverse=True)
        return out[: self.max_items] if self.max_items else out

    # ------------------------------------------------------------------ the server
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the feed is not serving; call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PATH}?format=json"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> SyntheticFeed:
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self.path.startswith(PATH):
                    self.send_error(404, "only /unconfirmed-transactions is served")
                    return
                feed.requests += 1
                body = json.dumps({"txs": feed.recent()}, separators=(",", ":")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # quiet: the timeline says what matters
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-feed", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
