"""The lead pipeline's multi-row operations: converting a lead into a client, finding duplicates, merging
duplicates into one lead.

Each operation is one transaction as `authenticated` with the caller's claims: row-level security keeps
it inside the caller's agency (another agency's lead is "not found"), and a failure anywhere, a lost
connection included, leaves nothing half done. Each writes one audit row per record with the business
meaning (`convert`, `merge`) and the acting user.

Decisions:
- A *lost* lead can be converted: a lead that was given up and then signs is won back; the audit row
  keeps its previous status. A lead that already became a client cannot (409 names the client).
- Merging a lead that became a client is refused (409): the client would lose its lead, and merging
  clients is a different operation. The survivor may be a converted lead; the moved activities then
  join its client too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg.rows import DictRow

from gardenos.auth.principal import Principal
from gardenos.crm.attachments import service as attachments
from gardenos.crm.contacts import service as contacts
from gardenos.crm.contacts import store
from gardenos.crm.contacts.agency import agency_rules
from gardenos.crm.contacts.fields import CLIENT, LEAD, PERSON
from gardenos.crm.contacts.rules import DuplicateRule
from gardenos.crm.conversion_and_merge import repository as repo
from gardenos.crm.conversion_and_merge.schemas import MERGEABLE_FIELDS, ConvertRequest, MergeRequest
from gardenos.db.pool import Database
from gardenos.db.rows import fetch_all, fetch_one
from gardenos.errors import BadRequest, Conflict, NotFound

# Lead fields a new client starts with; the rest of the client is its own (status, lifetime value).
CLIENT_FIELDS_FROM_LEAD = (*PERSON, "owner_id", "tags", "custom_fields", "notes", "last_activity_at")
SAME_EMAIL_SCORE = 1.0
SAME_PHONE_SCORE = 0.9


@dataclass(frozen=True)
class Caller:
    user_id: uuid.UUID
    agency_id: uuid.UUID
    claims: dict[str, Any]


def caller(principal: Principal) -> Caller:
    """A signed-in user with an active agency: what every pipeline operation needs."""
    agency_id = principal.require_agency()
    user_id = principal.require_user()
    return Caller(user_id, agency_id, principal.raw_claims)


class PipelineService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def convert(
        self,
        principal: Principal,
        lead_id: uuid.UUID,
        request: ConvertRequest | None,
        default_region: str,
    ) -> dict[str, Any]:
        """The lead becomes a client: person, company, owner, tags and custom fields are copied (the
        request overrides any of them), its activities join the client, the lead stays as `converted`."""
        who = caller(principal)
        async with self.database.transaction("authenticated", who.claims) as conn:
            lead = await repo.lead(conn, lead_id, lock=True)
            if lead is None:
                raise NotFound(f"lead {lead_id} not found")
            existing = (await repo.clients_of_leads(conn, [lead_id])).get(lead_id)
            if existing is not None:
                raise Conflict(f"lead {lead_id} was already converted to client {existing}")
            if lead["status"] == "converted":
                raise Conflict(
                    f"lead {lead_id} is marked converted but its client no longer exists; "
                    "set another status first to convert it again"
                )
            overrides = request.overrides() if request is not None else {}
            if "phone" in overrides:
                overrides["phone"] = await contacts.phone(conn, overrides["phone"], default_region)
            owner = overrides.get("owner_id")
            if owner is not None and await fetch_one(conn, repo.IS_MEMBER, (owner,)) is None:
                raise BadRequest(f"owner_id {owner} is not a member of this agency")
            fields = {name: lead[name] for name in CLIENT_FIELDS_FROM_LEAD}
            fields |= {"status": "active", "lifetime_value": Decimal(0)} | overrides
            # The client's converted_at and the lead's are the one moment: the transaction's now().
            client = await store.insert(
                conn, CLIENT, fields | {"lead_id": lead_id, "converted_at": store.NOW}
            )
            converted = await store.update(
                conn, LEAD, lead_id, {"status": "converted", "converted_at": store.NOW}
            )
            assert converted is not None  # locked above
            moved = await repo.execute(
                conn, repo.ATTACH_ACTIVITIES_TO_CLIENT, {"client_id": client["id"], "lead_id": lead_id}
            )
            # The lead's files follow the person to the client (the lead stays, as `converted`).
            files_moved = await attachments.move(
                conn, who.agency_id, ("leads", lead_id), ("clients", client["id"])
            )
            await repo.audit(
                conn,
                "convert",
                lead_id,
                lead["record"],
                converted["record"],
                {"client_id": str(client["id"]), "activities_moved": moved, "attachments_moved": files_moved},
            )
        return {
            "client": client["record"],
            "lead": converted["record"],
            "activities_moved": moved,
            "attachments_moved": files_moved,
        }

    async def duplicates_of(
        self,
        principal: Principal,
        lead_id: uuid.UUID,
        threshold: float,
        limit: int,
        rule: DuplicateRule | None = None,
    ) -> list[dict[str, Any]]:
        """Leads and clients of the agency that are probably the same person as this lead, best first;
        `same_person` says whether the duplicate rule (the agency's unless one is given) calls them so,
        else they are possible duplicates, to review."""
        who = caller(principal)
        async with self.database.transaction("authenticated", who.claims) as conn:
            lead = await repo.lead(conn, lead_id)
            if lead is None:
                raise NotFound(f"lead {lead_id} not found")
            rule = rule or (await agency_rules(conn)).duplicate_rule
            await conn.execute(repo.SET_SIMILARITY_THRESHOLD, (str(threshold),))
            rows = await fetch_all(
                conn,
                repo.LEAD_DUPLICATES,
                {
                    "lead_id": lead_id,
                    "email": lead["email_normalized"],
                    "phone": lead["phone_normalized"],
                    "name": lead["name_key"] if lead["has_name"] else None,
                    "company": lead["company_key"],
                    "threshold": threshold,
                    "limit": limit,
                },
            )
        return [
            {
                "kind": row["kind"],
                "id": str(row["id"]),
                "score": round(row["score"], 3),
                "reasons": _reasons(row, threshold),
                "same_person": rule.same_person(
                    emails=(lead["email_normalized"], row["record"].get("email_normalized")),
                    same_phone=row["same_phone"],
                    same_name_and_company=(row["name_similarity"] or 0) >= 1.0
                    and (row["company_similarity"] or 0) >= 1.0,
                ),
                "record": row["record"],
            }
            for row in rows
        ]

    async def agency_duplicates(self, principal: Principal, limit: int) -> list[dict[str, Any]]:
        """Pairs of the agency's leads that share an email or a phone: the older one first (the natural
        survivor of a merge), email matches before phone-only ones."""
        who = caller(principal)
        async with self.database.transaction("authenticated", who.claims) as conn:
            rows = await fetch_all(conn, repo.AGENCY_DUPLICATES, {"limit": limit})
        return [
            {
                "score": SAME_EMAIL_SCORE if row["same_email"] else SAME_PHONE_SCORE,
                "reasons": [
                    reason
                    for reason, hit in (("same email", row["same_email"]), ("same phone", row["same_phone"]))
                    if hit
                ],
                "leads": [row["first"], row["second"]],
            }
            for row in rows
        ]

    async def merge(
        self, principal: Principal, survivor_id: uuid.UUID, request: MergeRequest
    ) -> dict[str, Any]:
        """Merge duplicates into the survivor: chosen fields from the leads `prefer` names, empty fields
        filled from the duplicates (first non-empty in the given order), tags united, custom fields merged
        (the survivor's win), activities and agent memory moved; the duplicates are deleted."""
        who = caller(principal)
        duplicate_ids = list(dict.fromkeys(request.duplicate_ids))
        _check_merge_request(survivor_id, duplicate_ids, request.prefer)
        async with self.database.transaction("authenticated", who.claims) as conn:
            rows = {row["id"]: row for row in await repo.lock_leads(conn, [survivor_id, *duplicate_ids])}
            missing = [str(i) for i in [survivor_id, *duplicate_ids] if i not in rows]
            if missing:
                raise NotFound(f"lead(s) not found: {', '.join(missing)}")
            clients = await repo.clients_of_leads(conn, [survivor_id, *duplicate_ids])
            for duplicate_id in duplicate_ids:
                if duplicate_id in clients or rows[duplicate_id]["status"] == "converted":
                    client = clients.get(duplicate_id)
                    became = f"client {client}" if client else "a client"
                    raise Conflict(
                        f"lead {duplicate_id} was converted to {became}; merging converted leads is not "
                        "supported: make it the surviving lead, or leave it out of the merge"
                    )
            survivor = rows[survivor_id]
            status_from = request.prefer.get("status", survivor_id)
            if survivor_id in clients and rows[status_from]["status"] != survivor["status"]:
                raise BadRequest(
                    f"lead {survivor_id} became client {clients[survivor_id]}: its status stays as it is; "
                    "leave status out of prefer"
                )
            duplicates = [rows[i] for i in duplicate_ids]
            values = _merged_values(survivor, duplicates, {f: rows[i] for f, i in request.prefer.items()})
            updated = await store.update(conn, LEAD, survivor_id, values)
            assert updated is not None  # locked above
            moves = {
                "survivor": survivor_id,
                "duplicates": duplicate_ids,
                "client_id": clients.get(survivor_id),
            }
            activities_moved = await repo.execute(conn, repo.MOVE_ACTIVITIES, moves)
            memory_moved = await repo.execute(conn, repo.MOVE_MEMORY, moves)
            files_moved = 0
            for duplicate_id in duplicate_ids:
                files_moved += await attachments.move(
                    conn, who.agency_id, ("leads", duplicate_id), ("leads", survivor_id)
                )
            await repo.execute(conn, repo.DELETE_LEADS, (duplicate_ids,))
            for duplicate in duplicates:
                await repo.audit(
                    conn,
                    "merge",
                    duplicate["id"],
                    duplicate["record"],
                    {"merged_into": str(survivor_id)},
                    {"survivor_id": str(survivor_id)},
                )
            await repo.audit(
                conn,
                "merge",
                survivor_id,
                survivor["record"],
                updated["record"],
                {
                    "merged": [str(i) for i in duplicate_ids],
                    "activities_moved": activities_moved,
                    "memories_moved": memory_moved,
                    "attachments_moved": files_moved,
                },
            )
        return {
            "lead": updated["record"],
            "merged_ids": [str(i) for i in duplicate_ids],
            "leads_merged": len(duplicate_ids),
            "activities_moved": activities_moved,
            "memories_moved": memory_moved,
            "attachments_moved": files_moved,
        }


def _check_merge_request(
    survivor_id: uuid.UUID, duplicate_ids: list[uuid.UUID], prefer: dict[str, uuid.UUID]
) -> None:
    if not duplicate_ids:
        raise BadRequest("duplicate_ids is empty: name the leads to merge into this one")
    if survivor_id in duplicate_ids:
        raise BadRequest(f"lead {survivor_id} cannot be merged into itself: leave it out of duplicate_ids")
    unknown = sorted(set(prefer) - set(MERGEABLE_FIELDS))
    if unknown:
        raise BadRequest(
            f"prefer names fields a merge cannot choose: {', '.join(unknown)}",
            hint=f"choose among {', '.join(MERGEABLE_FIELDS)}; tags are united and custom fields merged",
        )
    involved = {survivor_id, *duplicate_ids}
    strangers = sorted(f"{field} ({lead_id})" for field, lead_id in prefer.items() if lead_id not in involved)
    if strangers:
        raise BadRequest(
            "prefer must name the survivor or one of duplicate_ids; not part of this merge: "
            + ", ".join(strangers)
        )


def _merged_values(
    survivor: DictRow, duplicates: list[DictRow], preferred: dict[str, DictRow]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in MERGEABLE_FIELDS:
        if field in preferred:
            # Taken as it is, even empty: the caller chose that lead's value.
            values[field] = preferred[field][field]
        else:
            candidates = (row[field] for row in (survivor, *duplicates))
            values[field] = next((v for v in candidates if v is not None), None)
    tags = [tag for row in (survivor, *duplicates) for tag in row["tags"]]
    values["tags"] = list(dict.fromkeys(tags))
    custom_fields: dict[str, Any] = {}
    for row in (*reversed(duplicates), survivor):
        custom_fields |= row["custom_fields"]
    values["custom_fields"] = custom_fields
    stamps = [row["last_activity_at"] for row in (survivor, *duplicates)]
    values["last_activity_at"] = max((s for s in stamps if s is not None), default=None)
    return values


def _reasons(row: DictRow, threshold: float) -> list[str]:
    reasons = []
    if row["same_email"]:
        reasons.append("same email")
    if row["same_phone"]:
        reasons.append("same phone")
    for what, similarity in (("name", row["name_similarity"]), ("company", row["company_similarity"])):
        if similarity is not None and similarity >= 1.0:
            reasons.append(f"same {what}")
        elif similarity is not None and similarity >= threshold:
            reasons.append(f"similar {what} {similarity:.2f}")
    return reasons
