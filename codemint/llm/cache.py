"""On-disk cache of successful LLM replies, so re-runs and resumed shards skip finished calls.

SQLite in WAL mode: readers never block the writer, and several threads and processes can
share one file. Each thread (and each process after a fork) opens its own connection;
`busy_timeout` absorbs the short write locks of concurrent writers. So it needs a local
filesystem (file locks, writes in place): a run directory on S3 keeps it in each worker's
local copy of the run (codemint/stage_task.py `local_copy_dir`), never in the bucket.

Every answer the server gave is stored, usable or not: a reply whose choices were all
dropped (truncated, empty, refused, malformed JSON) or a 400 that rejected the request
would fail the same way if sent again, so it is kept with its `failure` reason and a re-run
replays the failure without a request. `get(key, skip_failures=True)` ignores those entries
(`--retry-llm-failures`). Transport errors, timeouts, 429 and 5xx are never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    reply TEXT NOT NULL,
    created_at REAL NOT NULL,
    failure TEXT NOT NULL DEFAULT ''
)
"""
# Caches written before failures were stored lack the column.
_MIGRATE = "ALTER TABLE replies ADD COLUMN failure TEXT NOT NULL DEFAULT ''"


def request_key(endpoint: str, body: Mapping[str, Any], prompt_version: str) -> str:
    """Hash of everything that shapes a reply: the whole request body (model, messages, n,
    temperature, top_p, max_tokens, stop, response_format, logprobs, ...) and the prompt version.
    Transport settings (timeouts, retries) are not in the body, so they do not change the key."""
    text = json.dumps(
        {"endpoint": endpoint, "body": body, "prompt_version": prompt_version},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RequestCache:
    """Maps request keys to the raw JSON reply of the server."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_ms = int(busy_timeout_s * 1000)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._conn()  # create the file and schema now, so errors show at construction

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # A connection must not cross a fork: reopen in a child process.
        if conn is not None and self._local.pid == os.getpid():
            return conn
        # check_same_thread=False only so close() can close other threads' connections;
        # each connection is still used by the one thread that opened it.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_ms / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        self._set_wal(conn)
        # WAL + NORMAL: a commit is durable against a process kill, fsynced at checkpoints.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(replies)")}
        if "failure" not in columns:
            # Another process may add it meanwhile.
            with contextlib.suppress(sqlite3.OperationalError):
                conn.execute(_MIGRATE)
        self._local.conn = conn
        self._local.pid = os.getpid()
        with self._lock:
            self._conns.append(conn)
        return conn

    @staticmethod
    def _set_wal(conn: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment of exclusive access; processes opening the file
        # together may see "locked" despite busy_timeout, so retry briefly.
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.02)

    def get(self, key: str, *, skip_failures: bool = False) -> dict[str, Any] | None:
        sql = "SELECT reply FROM replies WHERE key = ?" + (" AND failure = ''" if skip_failures else "")
        row = self._conn().execute(sql, (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def put(
        self,
        key: str,
        reply: Mapping[str, Any],
        *,
        model: str = "",
        prompt_version: str = "",
        failure: str = "",
    ) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO replies (key, model, prompt_version, reply, created_at, failure) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, model, prompt_version, json.dumps(reply, ensure_ascii=False), time.time(), failure),
        )

    def mark_failed(self, key: str, failure: str) -> None:
        """Flag a stored reply as one that could not be used (e.g. a malformed repair)."""
        self._conn().execute("UPDATE replies SET failure = ? WHERE key = ?", (failure, key))

    def failures(self) -> dict[str, int]:
        """Stored failures by reason."""
        rows = (
            self._conn()
            .execute("SELECT failure, COUNT(*) FROM replies WHERE failure != '' GROUP BY failure")
            .fetchall()
        )
        return {str(reason): int(n) for reason, n in rows}

    # The async variants keep a waiting writer (another process holding the lock) from
    # stalling the event loop and the hundreds of requests in flight on it.
    async def aget(self, key: str, *, skip_failures: bool = False) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.get, key, skip_failures=skip_failures)

    async def aput(
        self,
        key: str,
        reply: Mapping[str, Any],
        *,
        model: str = "",
        prompt_version: str = "",
        failure: str = "",
    ) -> None:
        await asyncio.to_thread(
            self.put, key, reply, model=model, prompt_version=prompt_version, failure=failure
        )

    async def amark_failed(self, key: str, failure: str) -> None:
        await asyncio.to_thread(self.mark_failed, key, failure)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._conn().execute("SELECT 1 FROM replies WHERE key = ?", (key,)).fetchone() is not None

    def __bool__(self) -> bool:
        # An empty cache is still a cache: without this, `if cache:` would be False.
        return True

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def count(self, *, prompt_version: str | None = None) -> int:
        if prompt_version is None:
            return len(self)
        row = (
            self._conn()
            .execute("SELECT COUNT(*) FROM replies WHERE prompt_version = ?", (prompt_version,))
            .fetchone()
        )
        return int(row[0])

    def close(self) -> None:
        """Close every connection this object opened (in this process). Safe to call twice."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
