"""REST routes for answering interactions: the callback (within the acknowledgement
deadline, once, of a type valid for the interaction) and the webhook that posts followups and
reads, edits or deletes ``@original`` and followup messages."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from aiohttp import web

from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    CB_AUTOCOMPLETE_RESULT,
    CB_CHANNEL_MESSAGE,
    CB_DEFERRED_CHANNEL_MESSAGE,
    CB_DEFERRED_UPDATE_MESSAGE,
    CB_MODAL,
    CB_UPDATE_MESSAGE,
    EPHEMERAL,
    LOADING,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    DrivenInteraction,
)
from .rest_base import BODY, CREATE_FLAGS, Body, RestBase, is_empty_message, path_snowflake
from .util import DiscordError, json_response, unknown

log = logging.getLogger(__name__)

VALID_CALLBACKS = {
    APPLICATION_COMMAND: {CB_CHANNEL_MESSAGE, CB_DEFERRED_CHANNEL_MESSAGE, CB_MODAL},
    MESSAGE_COMPONENT: {
        CB_CHANNEL_MESSAGE,
        CB_DEFERRED_CHANNEL_MESSAGE,
        CB_DEFERRED_UPDATE_MESSAGE,
        CB_UPDATE_MESSAGE,
        CB_MODAL,
    },
    AUTOCOMPLETE: {CB_AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {
        CB_CHANNEL_MESSAGE,
        CB_DEFERRED_CHANNEL_MESSAGE,
        CB_DEFERRED_UPDATE_MESSAGE,
        CB_UPDATE_MESSAGE,
    },
}


class InteractionRoutes(RestBase):
    # -- interactions ---------------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> web.Response:
        emu = self.emu
        iid = path_snowflake(request, "iid", "interaction", 10062)
        driven = emu.interactions.get(iid)
        token = request.match_info["token"]
        if driven is None or not secrets.compare_digest(driven.token, token):
            raise DiscordError(404, 10062, "Unknown interaction")
        if driven.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        arrived = time.monotonic()
        elapsed = arrived - driven.dispatched_at
        if emu.ack_deadline is not None and elapsed > emu.ack_deadline:
            log.warning(
                "interaction %s acknowledged after %.2fs (deadline %.1fs): Unknown interaction",
                iid,
                elapsed,
                emu.ack_deadline,
            )
            raise DiscordError(404, 10062, "Unknown interaction")
        body: Body = request[BODY]
        payload = body.obj
        cb_type = payload.get("type")
        data: dict[str, Any] = payload.get("data") or {}
        if cb_type not in VALID_CALLBACKS.get(driven.type, set()) or (
            cb_type in (CB_DEFERRED_UPDATE_MESSAGE, CB_UPDATE_MESSAGE)
            and driven.source_message_id is None
        ):
            raise self.bad_body(
                request,
                "type",
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"callback type {cb_type} is not valid for interaction type {driven.type}",
            )
        meta: dict[str, Any] = {"id": str(driven.id), "type": driven.type}
        resource: dict[str, Any] | None = None
        channel_id = driven.channel_id
        assert channel_id is not None
        if cb_type == CB_CHANNEL_MESSAGE:
            if is_empty_message(data, body.uploads):
                raise self.bad_body(
                    request,
                    "data",
                    "EMPTY_MESSAGE",
                    "Cannot send an empty message",
                    discord_code=50006,
                )
            flags = int(data.get("flags") or 0) & CREATE_FLAGS
            msg = emu.new_message(
                channel_id,
                data,
                body.uploads,
                flags=flags,
                msg_type=20 if driven.type == APPLICATION_COMMAND else 0,
                interaction=driven,
            )
            driven.original_message_id = int(msg["id"])
            resource = {"type": cb_type, "message": msg}
            await emu.publish_message(msg)
        elif cb_type == CB_DEFERRED_CHANNEL_MESSAGE:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            msg = emu.new_message(
                channel_id,
                {},
                flags=flags,
                msg_type=20 if driven.type == APPLICATION_COMMAND else 0,
                interaction=driven,
            )
            driven.original_message_id = int(msg["id"])
            # No `resource` for a deferral: the spec's resource is a created message
            # (type 4), an updated one (7) or an activity; the loading message is named by
            # `interaction.response_message_id` instead.
        elif cb_type == CB_DEFERRED_UPDATE_MESSAGE:
            driven.original_message_id = driven.source_message_id
        elif cb_type == CB_UPDATE_MESSAGE:
            assert driven.source_message_id is not None
            driven.original_message_id = driven.source_message_id
            msg = emu.edit_message(driven.source_message_id, data, body.uploads)
            resource = {"type": cb_type, "message": msg}
        if driven.original_message_id is not None:
            original = emu.message(driven.original_message_id) or {}
            flags = int(original.get("flags", 0))
            meta.update(
                {
                    "response_message_id": str(driven.original_message_id),
                    "response_message_loading": bool(flags & LOADING),
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                }
            )
        driven.first_callback_at = arrived
        driven.callbacks.append(payload)
        emu.hold_until_acknowledged("interaction", driven.id)
        emu._notify()
        log.debug("interaction %s answered with callback type %s", iid, cb_type)
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        answer: dict[str, Any] = {"interaction": meta}
        if resource is not None:
            answer["resource"] = resource
        return json_response(answer)

    def _webhook_interaction(self, request: web.Request) -> DrivenInteraction:
        app = request.match_info["app"]
        driven = self.emu.interaction_by_token(request.match_info["token"])
        if driven is None or app != str(self.emu.world.application_id):
            raise DiscordError(404, 10015, "Unknown Webhook")
        return driven

    def _webhook_message_id(self, request: web.Request, driven: DrivenInteraction) -> int:
        ref = request.match_info["mid"]
        if ref == "@original":
            if driven.original_message_id is None:
                raise unknown("Message", 10008)
            return driven.original_message_id
        try:
            mid = int(ref)
        except ValueError:
            raise unknown("Message", 10008) from None
        if not driven.owns_message(mid):
            raise unknown("Message", 10008)
        return mid

    async def execute_webhook(self, request: web.Request) -> web.Response:
        emu = self.emu
        driven = self._webhook_interaction(request)
        if not driven.callbacks:
            raise DiscordError(404, 10015, "Unknown Webhook")
        body: Body = request[BODY]
        payload = body.obj
        if is_empty_message(payload, body.uploads):
            raise self.bad_body(
                request,
                "content",
                "EMPTY_MESSAGE",
                "Cannot send an empty message",
                discord_code=50006,
            )
        original_id = driven.original_message_id
        original = emu.message(original_id) if original_id is not None else None
        if (
            original is not None
            and original_id is not None
            and driven.response_type == CB_DEFERRED_CHANNEL_MESSAGE
            and not driven.followup_ids
            and int(original.get("flags", 0)) & LOADING
        ):
            # The first followup after a "thinking" defer fills the loading message,
            # keeping the ephemeral choice made when deferring.
            msg = emu.edit_message(original_id, payload, body.uploads)
            await emu.publish_message(msg)
        else:
            assert driven.channel_id is not None
            flags = int(payload.get("flags") or 0) & CREATE_FLAGS
            msg = emu.new_message(
                driven.channel_id, payload, body.uploads, flags=flags, interaction=driven
            )
            await emu.publish_message(msg)
        driven.followup_ids.append(int(msg["id"]))
        driven._followups.append(msg)
        emu._notify()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(msg)
        return web.Response(status=204)

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        driven = self._webhook_interaction(request)
        msg = self.emu.message(self._webhook_message_id(request, driven))
        if msg is None:
            raise unknown("Message", 10008)
        return json_response(msg)

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        driven = self._webhook_interaction(request)
        mid = self._webhook_message_id(request, driven)
        body: Body = request[BODY]
        return json_response(self.emu.edit_message(mid, body.obj, body.uploads))

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        driven = self._webhook_interaction(request)
        self.emu.delete_message(self._webhook_message_id(request, driven))
        return web.Response(status=204)
