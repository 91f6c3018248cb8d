"""A SYNTHETIC live transaction source for the demo: blockchain.info's format, on the twin clock.

The scheduled collector polls a URL (template parameter IngestSourceUrl); the demo points it
here. `GET /unconfirmed-transactions?format=json` answers `{"txs": [...]}` with the synthetic
transactions stamped in the last `lookback` seconds of the twin's "now", newest first, as
blockchain.info lists recent unconfirmed transactions. The stream comes from
feecast_testing.synthetic, generated an hour at a time (seeded per hour, so runs repeat), and a
regime change (from an hour on, fees climb x N per hour for a few hours, then hold) can be
set while it runs: hours not yet served are regenerated with it.
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
        self.steps = 0
        self.requests = 0
        self._hours: dict[datetime, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the stream
    def set_regime_change(self, at: datetime, fee_multiplier: float, steps: int = 3) -> None:
        """From `at` (rounded up to the hour) fees climb: x`fee_multiplier` more at the start of
        each of the next `steps` hours, then stay at the new level. Hours from `at` on are
        regenerated."""
        at = at.astimezone(UTC)
        if at.minute or at.second or at.microsecond:
            at = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        with self._lock:
            self.regime_change_at = at
            self.fee_multiplier = fee_multiplier
            self.steps = steps
            for hour in [h for h in self._hours if h >= at]:
                del self._hours[hour]

    def factor(self, hour: datetime) -> float:
        """The fee multiplier of an hour: 1 before the change, then m, m^2, ... m^steps.

        A staircase rather than one jump: DeepAR rescales each forecast by its context, so it
        follows a single new level within one context window; a climb that goes on for hours
        keeps surprising the model that was trained before it, until the level settles."""
        at = self.regime_change_at
        if at is None or hour < at:
            return 1.0
        step = int((hour - at) // timedelta(hours=1)) + 1
        return float(self.fee_multiplier ** min(step, self.steps))

    def _hour(self, hour: datetime) -> list[dict[str, Any]]:
        if hour not in self._hours:
            from feecast_testing.synthetic import config_for, generate

            index = int(hour.timestamp() // 3600)
            factor = self.factor(hour)
            config = config_for(
                hour,
                1 / 24,
                seed=(self.seed * 1_000_003 + index) % (2**32),
                rate_per_second=self.rate,
                regime_change_at=hour if factor != 1.0 else None,
                fee_multiplier=factor,
            )
            self._hours[hour] = sorted(generate(config), key=lambda tx: tx["time"])
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
