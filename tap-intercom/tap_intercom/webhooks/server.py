"""The receiver's ASGI application: verify, classify, queue durably in groups, answer.

``POST /`` takes Intercom's notifications; ``GET /health`` says the process is up. A
notification is answered 200 only after the commit that holds it (``synchronous=FULL``), so an
acknowledged notification survives SIGKILL and power loss. Commits are grouped: requests that
arrive while one commit runs (plus a short batch window) share the next, so the fsync cost is
paid per group, not per notification. Nothing here calls Intercom.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tap_intercom.webhooks.queue import QueueEntry, WebhookQueue
from tap_intercom.webhooks.signature import HEADER, verify
from tap_intercom.webhooks.topics import PING, TOPICS, MalformedNotification, notification_item

MAX_BODY = 1024 * 1024  # 1 MiB: Intercom's notifications are a few kB; larger is not one

logger = logging.getLogger("intercom_webhooks")


@dataclass
class ReceiverConfig:
    queue_path: Path
    secret: bytes
    app_id: str | None = None
    batch_window: float = 0.002  # seconds a group waits for more requests before it commits
    metrics_interval: float = 60.0
    ready_line: str | None = None  # printed on stdout once the queue is open (the CLI's URL)


@dataclass
class Metrics:
    """Counters logged every ``metrics_interval`` and at exit (and served by /health)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    ignored_topics: int = 0
    other_app: int = 0
    pings: int = 0
    too_large: int = 0
    malformed: int = 0
    queue_errors: int = 0
    commits: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.as_dict().items())


class GroupCommitter:
    """Collects entries from concurrent requests and stores each group in one transaction.

    The SQLite connection lives on one worker thread, so the event loop keeps reading requests
    while a commit waits for the disk; whatever arrived meanwhile forms the next group.
    """

    def __init__(self, path: Path, window: float, metrics: Metrics) -> None:
        self._path = path
        self._window = window
        self._metrics = metrics
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="queue-writer")
        self._queue: WebhookQueue | None = None
        self._pending: list[tuple[QueueEntry, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._queue = await loop.run_in_executor(self._executor, WebhookQueue, self._path)
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def submit(self, entry: QueueEntry) -> bool:
        """Queue ``entry`` durably; True if new, False for a notification id already queued."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                continue
            if self._window > 0 and not self._closing:
                await asyncio.sleep(self._window)
            batch, self._pending = self._pending, []
            self._wake.clear()
            queue = self._queue
            assert queue is not None
            try:
                results = await loop.run_in_executor(
                    self._executor, queue.store, [entry for entry, _ in batch]
                )
            except Exception as exc:  # disk full, file removed...: no 200 for this group
                self._metrics.queue_errors += len(batch)
                logger.error("could not commit %d notifications to the queue: %s", len(batch), exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self._metrics.commits += 1
            for (_, future), new in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(new)

    async def close(self) -> None:
        """Commit what is pending, then close the file."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._queue is not None:
            queue = self._queue
            await asyncio.get_running_loop().run_in_executor(self._executor, queue.close)
        self._executor.shutdown(wait=True)


class Receiver:
    """The request handlers and their state (config, metrics, committer)."""

    def __init__(self, config: ReceiverConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.committer = GroupCommitter(config.queue_path, config.batch_window, self.metrics)

    async def notification(self, request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            self.metrics.too_large += 1
            return PlainTextResponse("payload too large", 413)
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                self.metrics.too_large += 1
                return PlainTextResponse("payload too large", 413)
        body = bytes(raw)
        header = request.headers.get(HEADER)
        if not verify(self.config.secret, body, header):
            self.metrics.rejected += 1
            client = request.client.host if request.client else "?"
            logger.warning(
                "rejected a notification from %s: %s signature",
                client,
                "missing" if not header else "wrong",
            )
            return PlainTextResponse("invalid signature", 401)
        try:
            notification = json.loads(body)
        except ValueError:
            return self._malformed("not JSON")
        if not isinstance(notification, dict):
            return self._malformed("not a JSON object")
        topic = notification.get("topic")
        if topic == PING:
            self.metrics.pings += 1
            return PlainTextResponse("pong")
        app_id = self.config.app_id
        if app_id is not None and notification.get("app_id") != app_id:
            self.metrics.other_app += 1
            return PlainTextResponse("ignored: another app_id")
        if topic not in TOPICS:
            self.metrics.ignored_topics += 1
            return PlainTextResponse("ignored topic")
        notification_id = notification.get("id")
        if not isinstance(notification_id, str) or not notification_id:
            return self._malformed("no notification id")
        try:
            item = notification_item(topic, notification)
        except MalformedNotification as exc:
            return self._malformed(str(exc))
        created = notification.get("created_at")
        entry = QueueEntry(
            notification_id=notification_id,
            topic=topic,
            item_type=item.item_type,
            item_id=item.item_id,
            item_updated_at=item.updated_at,
            merged_into_id=item.merged_into_id,
            created_at=created if isinstance(created, int) else None,
            received_at=time.time(),
        )
        try:
            new = await self.committer.submit(entry)
        except Exception:
            # Not stored: a non-2xx makes Intercom deliver it again.
            return PlainTextResponse("queue unavailable", 503)
        if new:
            self.metrics.accepted += 1
        else:
            self.metrics.duplicates += 1
        return PlainTextResponse("ok")

    def _malformed(self, why: str) -> Response:
        self.metrics.malformed += 1
        logger.warning("refused a signed notification: %s", why)
        return PlainTextResponse(f"malformed notification: {why}", 400)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", **self.metrics.as_dict()})

    async def _log_metrics(self) -> None:
        last: dict[str, int] = {}
        while True:
            await asyncio.sleep(self.config.metrics_interval)
            now = self.metrics.as_dict()
            if now != last:
                logger.info("metrics %s", self.metrics.line())
                last = now

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.committer.start()
        if self.config.ready_line:
            # The socket is already listening: connections made from now on wait in its
            # backlog for the few milliseconds until uvicorn accepts them.
            sys.stdout.write(self.config.ready_line + "\n")
            sys.stdout.flush()
        ticker = asyncio.create_task(self._log_metrics(), name="metrics")
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await self.committer.close()
            logger.info("stopped; metrics %s", self.metrics.line())


def create_app(config: ReceiverConfig) -> Starlette:
    receiver = Receiver(config)
    app = Starlette(
        routes=[
            Route("/", receiver.notification, methods=["POST"]),
            Route("/health", receiver.health, methods=["GET"]),
        ],
        lifespan=receiver.lifespan,
    )
    app.state.receiver = receiver
    return app


def metrics_of(app: Any) -> Metrics:
    """The live counters of an app made by ``create_app`` (tests)."""
    receiver: Receiver = app.state.receiver
    return receiver.metrics
