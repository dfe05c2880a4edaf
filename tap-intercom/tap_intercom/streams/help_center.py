"""Help-center content: articles, collections, help centers."""

from __future__ import annotations

from typing import ClassVar

from tap_intercom.streams.base import FullTableStream


class ArticlesStream(FullTableStream):
    name = "articles"
    path = "/articles"
    primary_keys: ClassVar[list[str]] = ["id"]
    paginated = True


class CollectionsStream(FullTableStream):
    name = "collections"
    path = "/help_center/collections"
    primary_keys: ClassVar[list[str]] = ["id"]
    paginated = True


class HelpCentersStream(FullTableStream):
    name = "help_centers"
    path = "/help_center/help_centers"
    primary_keys: ClassVar[list[str]] = ["id"]
