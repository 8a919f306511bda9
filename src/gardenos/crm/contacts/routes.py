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

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from gardenos.api.deps import DatabaseDep, SettingsDep, rate_limited
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.activities import service as activities
from gardenos.crm.activities.schemas import TimelinePage
from gardenos.crm.common import ListFilters, agency_transaction
from gardenos.crm.contacts.service import Filters, Records

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
) -> None:
    """The kind's routes on `router` (prefixed `/api/v1/<kind>`)."""
    one, many = records.kind.singular, records.kind.table
    id_name = f"{one}_id"

    async def create(
        body: BaseModel, database: DatabaseDep, principal: PrincipalDep, settings: SettingsDep
    ) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.create(conn, body, settings.default_phone_region)

    async def list_(query: Filters, database: DatabaseDep, principal: PrincipalDep) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.list(conn, query)

    async def get(record_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.get(conn, record_id)

    async def update(
        record_id: uuid.UUID,
        body: BaseModel,
        database: DatabaseDep,
        principal: PrincipalDep,
        settings: SettingsDep,
    ) -> Any:
        async with agency_transaction(database, principal) as conn:
            return await records.update(conn, record_id, body, settings.default_phone_region)

    async def delete(record_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Response:
        async with agency_transaction(database, principal) as conn:
            await records.delete(conn, record_id)
        return Response(status_code=204)

    async def timeline(
        record_id: uuid.UUID,
        page: Annotated[ListFilters, Query()],
        database: DatabaseDep,
        principal: PrincipalDep,
    ) -> TimelinePage:
        async with agency_transaction(database, principal) as conn:
            await records.get(conn, record_id)
            return await activities.timeline(conn, many, record_id, page)

    item = f"/{{{id_name}}}"
    router.add_api_route(
        "",
        _as_kind(create, id_name, {"body": new}),
        methods=["POST"],
        name=f"create_{one}",
        status_code=201,
        response_model=records.record,
    )
    router.add_api_route(
        "",
        _as_kind(list_, id_name, {"query": Annotated[filters, Query()]}),
        methods=["GET"],
        name=f"list_{many}",
        response_model=records.page,
        dependencies=[rate_limited("search", when_query="q")],
        description=f"{many.capitalize()} matching every filter given, one page at a time: pass "
        "`next_cursor` back as `cursor`.",
    )
    router.add_api_route(
        item, _as_kind(get, id_name, {}), methods=["GET"], name=f"get_{one}", response_model=records.record
    )
    router.add_api_route(
        item,
        _as_kind(update, id_name, {"body": patch}),
        methods=["PATCH"],
        name=f"update_{one}",
        response_model=records.record,
        description="Change the fields sent. `owner_id` must name a member of the agency (null unassigns).",
    )
    router.add_api_route(
        item, _as_kind(delete, id_name, {}), methods=["DELETE"], name=f"delete_{one}", status_code=204
    )
    router.add_api_route(
        f"{item}/timeline",
        _as_kind(timeline, id_name, {}),
        methods=["GET"],
        name=f"{one}_timeline",
        response_model=TimelinePage,
        description=f"The {one}'s activities and the changes to the {one} itself, newest first.",
    )
