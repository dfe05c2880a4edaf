"""The workspace's own lists: admins, teams, tags, segments, subscription types, data attributes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from typing_extensions import override

from tap_intercom.errors import StreamUnavailable
from tap_intercom.streams.base import FullTableStream


class AdminsStream(FullTableStream):
    name = "admins"
    path = "/admins"
    records_key = "admins"
    primary_keys: ClassVar[list[str]] = ["id"]


class TeamsStream(FullTableStream):
    name = "teams"
    path = "/teams"
    records_key = "teams"
    primary_keys: ClassVar[list[str]] = ["id"]


class TagsStream(FullTableStream):
    name = "tags"
    path = "/tags"
    primary_keys: ClassVar[list[str]] = ["id"]


class SegmentsStream(FullTableStream):
    name = "segments"
    path = "/segments"
    records_key = "segments"
    primary_keys: ClassVar[list[str]] = ["id"]

    @override
    def list_params(self) -> dict[str, Any]:
        return {"include_count": "true"}


class SubscriptionTypesStream(FullTableStream):
    name = "subscription_types"
    path = "/subscription_types"
    primary_keys: ClassVar[list[str]] = ["id"]


class DataAttributesStream(FullTableStream):
    """Contact and company attributes, and conversation attributes where the version has them.

    Only custom attributes have an id, so the key is Intercom's own: (model, name).
    """

    name = "data_attributes"
    path = "/data_attributes"
    primary_keys: ClassVar[list[str]] = ["model", "name"]
    conversation_attributes_version: ClassVar[str] = "2.16"

    @override
    def list_records(self) -> Iterator[dict[str, Any]]:
        for model in ("contact", "company"):
            for page in self.pages(self.path, params={"model": model}):
                for record in page:
                    record.setdefault("model", model)
                    yield record
        reason = self.version_lacks(self.conversation_attributes_version)
        try:
            if reason:
                raise StreamUnavailable(reason)
            for page in self.pages("/conversations/attributes"):
                for record in page:
                    record.setdefault("model", "conversation")
                    yield record
        except StreamUnavailable as exc:
            # Contact and company attributes are complete; the pass is not, so no
            # ACTIVATE_VERSION may tell the target that conversation attributes vanished.
            self.pass_complete = False
            self.logger.warning(
                "data_attributes: conversation attributes skipped (%s); contact and company "
                "attributes are complete",
                exc,
            )
