"""A local Intercom API emulator for tests and benchmarks (API version 2.16 shapes).

    with Emulator(WorkspaceSpec(contacts=100), rate_limit=50) as emu:
        requests.get(f"{emu.url}/admins", headers={"Authorization": f"Bearer {emu.token}"})
        emu.workspace.update("conversations", count=5)
        emu.stats(), emu.truth()

See ``tests/emulator/README.md``.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from tests.emulator.extras import Extras
from tests.emulator.server import DEFAULT_TOKEN, EmulatorServer, Faults, Settings, mutate
from tests.emulator.webhooks import WebhookDelivery, WebhookSettings
from tests.emulator.workspace import Workspace, WorkspaceSpec

__all__ = [
    "Emulator",
    "Faults",
    "Settings",
    "WebhookDelivery",
    "WebhookSettings",
    "Workspace",
    "WorkspaceSpec",
    "mutate",
]


class Emulator:
    """The emulator server in a background thread over a generated workspace."""

    def __init__(
        self,
        spec: WorkspaceSpec | None = None,
        *,
        token: str = DEFAULT_TOKEN,
        rate_limit: int = 10_000,
        search_lag: float = 0.0,
        scroll_expiry: float = 60.0,
        latency_ms: int = 0,
        faults: Faults | None = None,
        forbidden_scopes: tuple[str, ...] = (),
        plan_restricted_scopes: tuple[str, ...] = (),
        port: int = 0,
        webhooks: WebhookSettings | None = None,
    ) -> None:
        self.workspace = Workspace(spec)
        # Deliveries only when asked for: rendering every mutation's item costs time.
        self.webhooks = WebhookDelivery(self.workspace, webhooks) if webhooks else None
        settings = Settings(
            token=token,
            rate_limit=rate_limit,
            search_lag=search_lag,
            scroll_expiry=scroll_expiry,
            latency_ms=latency_ms,
            faults=faults or Faults(),
            forbidden_scopes=tuple(forbidden_scopes),
            plan_restricted_scopes=tuple(plan_restricted_scopes),
        )
        self._server = EmulatorServer(self.workspace, settings, port)
        self._server.webhooks = self.webhooks
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def token(self) -> str:
        return self._server.settings.token

    @property
    def settings(self) -> Settings:
        return self._server.settings

    def start(self) -> Emulator:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="intercom-emulator",
                daemon=True,
            )
            self._thread.start()
        if self.webhooks is not None:
            self.webhooks.start()
        return self

    def stop(self) -> None:
        if self.webhooks is not None:
            self.webhooks.stop()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def headers(self, version: str = "2.16") -> dict[str, str]:
        """Request headers a client would send (for tests)."""
        return {
            "Authorization": f"Bearer {self.token}",
            "Intercom-Version": version,
            "Accept": "application/json",
        }

    def stats(self) -> dict[str, Any]:
        """``{"total", "rate_limited", "routes": {"GET /admins": {"200": n}}, "faults": {...}}``."""
        return self._server.stats()

    def reset_stats(self) -> None:
        self._server.reset_stats()

    def configure(self, **changes: Any) -> Settings:
        """Change settings at run time: token, rate_limit, search_lag, scroll_expiry,
        scroll_page_size, latency_ms, forbidden_scopes, plan_restricted_scopes, faults, or any
        ``Faults`` field given flat (error_rate=0.1)."""
        return self._server.configure(**changes)

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> Settings:
        """Replace the faults (``faults``) or change some of their fields."""
        if faults is not None:
            changes["faults"] = faults
        return self._server.configure(**changes)

    @property
    def extras(self) -> Extras:
        """Activity logs, ticket types, macros, calls and the other lists beside search."""
        return self._server.extras

    def truth(self) -> dict[str, Any]:
        return {**self.workspace.truth(), **self._server.extras.truth()}
