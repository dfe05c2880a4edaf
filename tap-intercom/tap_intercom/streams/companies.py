"""Companies through the scroll API: the one full listing Intercom offers.

`POST /companies/list` stops at 10,000 companies and omits companies without contacts, so the
scroll is used. Only one scroll may be open per app: a second gets `scroll_exists` until the
first ends or sits idle for a minute, so the stream waits and retries; a scroll that breaks
(its retries exhausted, or its cursor refused) is started again from the beginning. The next
page is fetched while the page before it is written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from typing_extensions import override

from tap_intercom.errors import IntercomError, NotFound, RetriesExhausted, StreamUnavailable
from tap_intercom.probe import Probe
from tap_intercom.streams.base import FullTableStream

SCROLL_EXISTS_WAIT_SECONDS = 5.0
SCROLL_EXISTS_MAX_WAIT_SECONDS = 90.0
MAX_SCROLL_RESTARTS = 3


class ScrollBroken(Exception):
    """The scroll cannot continue and must start again."""


class CompaniesStream(FullTableStream):
    name = "companies"
    path = "/companies/scroll"
    primary_keys: ClassVar[list[str]] = ["id"]
    # `--test` must not open the app's one scroll: the plain list has the same scope.
    probe: ClassVar[Probe] = Probe("GET", "/companies", (("per_page", 1),))

    def _scroll_page(self, scroll_param: str | None) -> dict[str, Any]:
        params = {"scroll_param": scroll_param} if scroll_param else None
        waited = 0.0
        while True:
            try:
                if scroll_param is None:
                    # Opening a scroll may be replayed (with the client's backoff): a lost
                    # answer leaves a scroll open, which the next try meets as scroll_exists.
                    return self.get(self.path, params)
                # Never replayed: a page whose answer was lost has advanced the scroll anyway,
                # and asking again would skip it. The scroll restarts instead.
                return self.get_once(self.path, params)
            except StreamUnavailable:
                raise
            except RetriesExhausted as exc:
                raise ScrollBroken(str(exc)) from exc
            except NotFound as exc:
                if scroll_param is None:
                    raise
                raise ScrollBroken(str(exc)) from exc
            except IntercomError as exc:
                if exc.code == "scroll_exists" and scroll_param is None:
                    if waited >= SCROLL_EXISTS_MAX_WAIT_SECONDS:
                        msg = (
                            "companies: another companies scroll stayed open for "
                            f"{waited:.0f}s (another run of this app?); try again later"
                        )
                        raise IntercomError(msg, status=exc.status, code=exc.code) from None
                    self.logger.warning(
                        "companies: another scroll is open for this app; waiting %.0fs for it "
                        "to end or expire",
                        SCROLL_EXISTS_WAIT_SECONDS,
                    )
                    time.sleep(SCROLL_EXISTS_WAIT_SECONDS)
                    waited += SCROLL_EXISTS_WAIT_SECONDS
                    continue
                if scroll_param is not None and exc.status == 400:
                    raise ScrollBroken(str(exc)) from exc
                raise

    def _scroll(self) -> Iterator[list[dict[str, Any]]]:
        """The scroll's pages in order. Each next page is asked for as soon as its
        scroll_param arrives, while this page's records are written: the pages are a chain
        (one scroll, one cursor), and writing a page of companies took longer than fetching
        the next one. At most one page is ahead; one request of the scroll is open at a time."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="companies-scroll") as ahead:
            body = self._scroll_page(None)
            while True:
                records = body.get("data") or []
                if not records:
                    return
                self.progress.add(len(records), self.requests)
                scroll_param = body.get("scroll_param") or None
                following = ahead.submit(self._scroll_page, scroll_param) if scroll_param else None
                yield records
                if following is None:
                    return
                body = following.result()

    @override
    def list_records(self) -> Iterator[dict[str, Any]]:
        for restart in range(MAX_SCROLL_RESTARTS + 1):
            try:
                for page in self._scroll():
                    yield from page
                return
            except ScrollBroken as exc:
                if restart == MAX_SCROLL_RESTARTS:
                    msg = f"companies: the scroll broke {restart + 1} times, last: {exc}"
                    raise IntercomError(msg) from None
                self.logger.warning("companies: the scroll broke (%s); starting it again", exc)
