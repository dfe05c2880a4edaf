"""``intercom-webhooks``: the command that runs the receiver until SIGTERM.

    INTERCOM_CLIENT_SECRET=... intercom-webhooks --port 8080 --queue output/webhooks.sqlite

The client secret comes from ``INTERCOM_CLIENT_SECRET`` or ``--client-secret-file``, never
from the command line (argument lists are visible to every user of the machine). Every option
also reads ``INTERCOM_WEBHOOKS_<OPTION>`` from the environment (the Meltano plugin's way).
Prints ``WEBHOOKS_URL=http://HOST:PORT`` on stdout once it accepts connections; logs go to
stderr. SIGTERM (or SIGINT) finishes the requests in flight, commits, and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

SECRET_ENV = "INTERCOM_CLIENT_SECRET"  # noqa: S105 (the variable's name, not a secret)
# Every option can also come from the environment (INTERCOM_WEBHOOKS_PORT=...): that is how
# the Meltano utility plugin passes its settings.
ENV_PREFIX = "INTERCOM_WEBHOOKS_"
EXTRA_HINT = (
    "intercom-webhooks needs its server dependencies: "
    "pip install 'archivist-tap-intercom[webhooks]'"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="intercom-webhooks",
        description="Receive Intercom webhook notifications into a durable queue for tap-intercom.",
    )
    env = os.environ.get
    parser.add_argument(
        "--host",
        default=env(f"{ENV_PREFIX}HOST") or "127.0.0.1",
        help="address to bind (default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(env(f"{ENV_PREFIX}PORT") or 8080),
        help="port (0 picks a free one; default 8080)",
    )
    queue = env(f"{ENV_PREFIX}QUEUE")
    parser.add_argument(
        "--queue",
        required=not queue,
        type=Path,
        default=Path(queue) if queue else None,
        help="the queue's SQLite file",
    )
    parser.add_argument(
        "--app-id",
        default=env(f"{ENV_PREFIX}APP_ID") or None,
        help="accept only notifications of this app_id (workspace)",
    )
    secret_file = env(f"{ENV_PREFIX}CLIENT_SECRET_FILE")
    parser.add_argument(
        "--client-secret-file",
        type=Path,
        default=Path(secret_file) if secret_file else None,
        help=f"file holding the app's client secret (else ${SECRET_ENV})",
    )
    parser.add_argument(
        "--batch-window-ms",
        type=float,
        default=2.0,
        help="how long a group commit waits for more notifications (default 2)",
    )
    parser.add_argument(
        "--metrics-interval", type=float, default=60.0, help="seconds between metric log lines"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def read_secret(path: Path | None) -> bytes | None:
    if path is not None:
        text = path.read_text(encoding="utf-8").strip()
    else:
        text = os.environ.get(SECRET_ENV, "").strip()
    return text.encode() if text else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    log = logging.getLogger("intercom_webhooks")
    try:
        import uvicorn

        from tap_intercom.webhooks.server import ReceiverConfig, create_app
    except ImportError:
        print(EXTRA_HINT, file=sys.stderr)
        return 2
    try:
        secret = read_secret(args.client_secret_file)
    except OSError as exc:
        print(f"cannot read the client secret file: {exc.strerror}", file=sys.stderr)
        return 2
    if not secret:
        print(f"no client secret: set {SECRET_ENV} or pass --client-secret-file", file=sys.stderr)
        return 2
    config = ReceiverConfig(
        queue_path=args.queue,
        secret=secret,
        app_id=args.app_id,
        batch_window=max(0.0, args.batch_window_ms / 1000),
        metrics_interval=args.metrics_interval,
    )
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    config.ready_line = f"WEBHOOKS_URL=http://{host}:{port}"
    uv_config = uvicorn.Config(
        create_app(config),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=20,
    )
    server = uvicorn.Server(uv_config)
    # uvicorn re-raises the signal that stopped it once it has shut down; with this handler in
    # place that re-raise is a no-op and the process exits 0 after a clean stop.
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    log.info("listening on http://%s:%d, queue %s", host, port, args.queue)
    server.run(sockets=[sock])
    return 0 if server.started else 1


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Made with ``IPPROTO_TCP`` explicitly: asyncio sets TCP_NODELAY
    only on sockets whose ``proto`` says TCP, and without it every response waited ~40 ms for
    the client's delayed ACK (Nagle), whatever the server's speed."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart on the same port
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Placeholder handler (see main)."""


if __name__ == "__main__":
    raise SystemExit(main())
