"""The routes every kind of person record has under `/api/v1/<kind>`: create, list, get, change, delete and
the timeline. `crm/leads` and `crm/clients` add them to their routers with their own schemas (a lead's
tags are its own routes).

The endpoints are written once here; each kind's copy gets the kind's names (`create_lead`, the path
parameter `lead_id`, as the OpenAPI document has always named them) and its classes as the types FastAPI
reads the body, the query and the answer from. Hence no `from __future__ import annotations`: FastAPI
reads these signatures as objects."""

import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from gardenos.api.deps import DatabaseDep, SettingsDep, rate_limited
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.activities import service as activities
from gardenos.crm.activities.schemas import TimelinePage
from gardenos.crm.attachments import service as attachments
from gardenos.crm.attachments.schemas import Attachment, AttachmentUpload, WithAttachments
from gardenos.crm.common import ListFilters, Tag, agency_transaction
from gardenos.crm.contacts.schemas import TagBody
from gardenos.crm.contacts.service import Filters, Records
from gardenos.storage.routes import StorageDep

Endpoint = Callable[..., Awaitable[Any]]


def _as_kind(impl: Endpoint, id_name: str, types: dict[str, Any]) -> Endpoint:
    """`impl` with its `record_id` parameter named `id_name` and its parameters of `types` retyped."""
    signature = inspect.signature(impl)
    parameters = [
        p.replace(
            name=id_name if p.name == "record_id" else p.name, annotation=types.get(p.name, p.annotation)
        )
        for p in signature.parameters.values()
    ]

    async def endpoint(**values: Any) -> Any:
        if id_name in values:
            values["record_id"] = values.pop(id_name)
        return await impl(**values)

    endpoint.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return endpoint


def add_routes(
    router: APIRouter,
    records: Records[Any, Any],
    new: type[BaseModel],
    patch: type[BaseModel],
    filters: type[BaseModel],
    *,
    tags: bool = False,
) -> None:
    """The kind's routes on `router` (prefixed `/api/v1/<kind>`); with `tags`, adding and removing one tag
    (leads have them; a client's tags change with its PATCH)."""
    one, many = records.kind.singular, records.kind.table
    id_name = f"{one}_id"

    async def create(
        new_record: BaseModel, database: DatabaseDep, principal: PrincipalDep, settings: SettingsDep
    ) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.create(conn, new_record, settings.default_phone_region)

    async def list_(query: Filters, database: DatabaseDep, principal: PrincipalDep) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.list(conn, query)

    async def get(record_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.get(conn, record_id)

    async def update(
        record_id: uuid.UUID,
        changes: BaseModel,
        database: DatabaseDep,
        principal: PrincipalDep,
        settings: SettingsDep,
    ) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.update(conn, record_id, changes, settings.default_phone_region)

    async def delete(
        record_id: uuid.UUID,
        database: DatabaseDep,
        principal: PrincipalDep,
        storage: StorageDep,
        with_attachments: WithAttachments = None,
    ) -> Response:
        async with agency_transaction(database, principal) as conn:
            await records.delete(conn, record_id)
            removed = await attachments.on_delete(
                conn, principal.require_agency(), many, record_id, with_attachments
            )
        await storage.delete_blobs(removed)
        return Response(status_code=204)

    async def list_attachments(
        record_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep, storage: StorageDep
    ) -> list[Attachment]:
        async with agency_transaction(database, principal) as conn:
            await records.get(conn, record_id)
        files = await attachments.list_files(storage, attachments.caller_scope(principal), many, record_id)
        return [Attachment.model_validate(f) for f in files]

    async def add_attachment(
        record_id: uuid.UUID,
        options: Annotated[AttachmentUpload, Query()],
        request: Request,
        database: DatabaseDep,
        principal: PrincipalDep,
        storage: StorageDep,
    ) -> Attachment:
        async with agency_transaction(database, principal) as conn:
            await records.get(conn, record_id)
        stored = await attachments.upload_request(
            storage, attachments.caller_scope(principal), many, record_id, options, request
        )
        return Attachment.model_validate(stored)

    async def add_tag(
        record_id: uuid.UUID, body: TagBody, database: DatabaseDep, principal: PrincipalDep
    ) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.add_tag(conn, record_id, body.tag)

    async def remove_tag(
        record_id: uuid.UUID, tag: Annotated[Tag, Path()], database: DatabaseDep, principal: PrincipalDep
    ) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.remove_tag(conn, record_id, tag)

    async def timeline(
        record_id: uuid.UUID,
        page: Annotated[ListFilters, Query()],
        database: DatabaseDep,
        principal: PrincipalDep,
    ) -> TimelinePage:
        async with agency_transaction(database, principal) as conn:
            await records.get(conn, record_id)
            return await activities.timeline(conn, many, record_id, page)

    item, record = f"/{{{id_name}}}", {"response_model": records.record}
    # (path, method, name, endpoint, what else the route has); the descriptions are the answers' docs.
    routes: list[tuple[str, str, str, Endpoint, dict[str, Any]]] = [
        ("", "POST", f"create_{one}", create, {"status_code": 201} | record),
        (
            "",
            "GET",
            f"list_{many}",
            list_,
            {
                "response_model": records.page,
                "dependencies": [rate_limited("search", when_query="q")],
                "description": f"{many.capitalize()} matching every filter given, one page at a time: pass "
                "`next_cursor` back as `cursor`.",
            },
        ),
        (item, "GET", f"get_{one}", get, record),
        (
            item,
            "PATCH",
            f"update_{one}",
            update,
            record
            | {
                "description": "Change the fields sent. `owner_id` must name a member of the agency "
                "(null unassigns).",
            },
        ),
        (
            item,
            "DELETE",
            f"delete_{one}",
            delete,
            {
                "status_code": 204,
                "description": f"Delete the {one}. One with attachments answers 409 unless "
                "`with_attachments` says what becomes of them (true: deleted with it; false: kept).",
            },
        ),
        (
            f"{item}/attachments",
            "GET",
            f"list_{one}_attachments",
            list_attachments,
            {
                "response_model": list[Attachment],
                "description": f"The files attached to the {one} (storage bucket `attachments`, "
                f"folder `{many}/<id>/`).",
            },
        ),
        (
            f"{item}/attachments",
            "POST",
            f"add_{one}_attachment",
            add_attachment,
            {
                "status_code": 201,
                "response_model": Attachment,
                "description": f"Attach a file to the {one}: the body is the file (raw, or multipart "
                "with a `file` part), `filename` its name.",
            },
        ),
    ]
    if tags:
        routes += [
            (
                f"{item}/tags",
                "POST",
                f"add_{one}_tag",
                add_tag,
                record
                | {
                    "description": f"Add a tag (no change if the {one} has it).",
                },
            ),
            (
                f"{item}/tags/{{tag}}",
                "DELETE",
                f"remove_{one}_tag",
                remove_tag,
                record
                | {
                    "description": f"Remove a tag (no change if the {one} does not have it).",
                },
            ),
        ]
    routes.append(
        (
            f"{item}/timeline",
            "GET",
            f"{one}_timeline",
            timeline,
            {
                "response_model": TimelinePage,
                "description": f"The {one}'s activities and the changes to the {one} itself, newest first.",
            },
        )
    )
    types = {"new_record": new, "changes": patch, "query": Annotated[filters, Query()]}
    for path, method, name, endpoint, options in routes:
        router.add_api_route(path, _as_kind(endpoint, id_name, types), methods=[method], name=name, **options)
