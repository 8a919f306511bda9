"""Realistic CRM demo data (leads, clients converted from them, activities), loaded with COPY.

Faker runs only while building small per-locale pools; rows are combined from those pools with a seeded
`random.Random`, which is what makes a million rows take seconds instead of minutes. One seed gives the
same people, companies, statuses, dates and activities. Ids are the exception: they are UUIDv7 stamped
with each row's `created_at` (so id order is creation order, as in real data) with random bits from the
OS, so loading twice with one seed never collides on a primary key.

Everything a later step needs (which leads convert and when, how many activities, the last one's time)
is decided before a lead is written, so leads are never updated after COPY: updating a freshly loaded
row rewrites it and all its index entries.
"""

from __future__ import annotations

import json
import os
import random
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import NamedTuple

import psycopg
from faker import Faker
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

ProgressCallback = Callable[[str, int], None]

CHUNK_ROWS = 50_000
DAY = 86_400
HISTORY_DAYS = 730
# Below this many rows, index maintenance is cheap and not worth an exclusive lock on the table.
BULK_MIN_ROWS = 20_000

COPY_LEADS = """
COPY public.leads (id, agency_id, first_name, last_name, email, phone, company, job_title, website, city,
    country, source, status, owner_id, score, estimated_value, tags, custom_fields, notes, last_activity_at,
    converted_at, created_at, updated_at) FROM STDIN
"""
COPY_CLIENTS = """
COPY public.clients (id, agency_id, first_name, last_name, email, phone, company, job_title, website, city,
    country, status, owner_id, lifetime_value, tags, custom_fields, notes, last_activity_at, created_at,
    updated_at) FROM STDIN
"""
# The lead was written with status 'converted' and its converted_at; the client copies the person.
CONVERT_LEADS = """
INSERT INTO public.clients (id, agency_id, lead_id, first_name, last_name, email, phone, company, job_title,
    website, city, country, status, owner_id, lifetime_value, tags, custom_fields, last_activity_at,
    converted_at, created_at, updated_at)
SELECT c.id, l.agency_id, l.id, l.first_name, l.last_name, l.email, l.phone, l.company, l.job_title,
    l.website, l.city, l.country, c.status, l.owner_id, c.lifetime_value, l.tags, l.custom_fields,
    to_timestamp(c.last_at), l.converted_at, l.converted_at, greatest(l.converted_at, to_timestamp(c.last_at))
FROM unnest(%(ids)s::uuid[], %(lead_ids)s::uuid[], %(statuses)s::text[], %(values)s::numeric[],
        %(last_at)s::bigint[]) AS c(id, lead_id, status, lifetime_value, last_at)
JOIN public.leads l ON l.agency_id = %(agency_id)s AND l.id = c.lead_id
"""
# One row per activity, expanded server-side from one entry per lead or client. Choices come from a hash
# of the entry's position and the seed, not random(), so they repeat without touching the session's
# random() state. The first done activity is the latest: it falls on the subject's last_activity_at.
INSERT_ACTIVITIES = """
INSERT INTO public.activities (agency_id, lead_id, client_id, kind, subject, body, status, due_at,
    completed_at, created_by, metadata, occurred_at, created_at, updated_at)
SELECT %(agency_id)s, s.lead_id, s.client_id, a.kind, a.subject, a.body,
    CASE WHEN a.planned THEN 'planned' WHEN a.kind = 'meeting' AND r.h %% 17 = 0 THEN 'cancelled'
        ELSE 'done' END,
    CASE WHEN a.planned THEN to_timestamp(%(now)s + 86400 * (1 + r.h %% 21) + 3600 * (8 + r.h %% 9)) END,
    CASE WHEN a.kind = 'task' AND NOT a.planned THEN t.at END,
    s.owner_id,
    CASE a.kind
        WHEN 'call' THEN jsonb_build_object('duration_sec', 20 + r.h %% 1800,
            'direction', (ARRAY['outbound', 'outbound', 'inbound'])[1 + r.h %% 3])
        WHEN 'email' THEN jsonb_build_object('direction', (ARRAY['outbound', 'inbound'])[1 + r.h %% 2])
        WHEN 'meeting' THEN jsonb_build_object('location', (ARRAY['video', 'onsite', 'phone'])[1 + r.h %% 3])
        ELSE '{}'::jsonb END,
    t.at, t.at, t.at
FROM unnest(%(lead_ids)s::uuid[], %(client_ids)s::uuid[], %(owner_ids)s::uuid[], %(first_at)s::bigint[],
        %(last_at)s::bigint[], %(counts)s::int[], %(planned)s::bool[])
    WITH ORDINALITY AS s(lead_id, client_id, owner_id, first_at, last_at, n, planned, ord)
CROSS JOIN LATERAL generate_series(1, s.n + s.planned::int) AS g(i)
CROSS JOIN LATERAL (SELECT hashint8extended(s.ord * 8 + g.i, %(seed)s) & 2147483647 AS h) AS r
CROSS JOIN LATERAL (SELECT g.i > s.n AS planned, r.h / 64 %% cardinality(%(kinds)s::text[]) + 1 AS pick) AS p
CROSS JOIN LATERAL (
    SELECT p.planned,
        CASE WHEN p.planned THEN 'task' ELSE (%(kinds)s::text[])[p.pick] END AS kind,
        CASE WHEN p.planned THEN (%(tasks)s::text[])[1 + r.h %% cardinality(%(tasks)s::text[])]
            ELSE (%(subjects)s::text[])[p.pick] END AS subject,
        CASE WHEN NOT p.planned THEN (%(bodies)s::text[])[p.pick] END AS body
) AS a
CROSS JOIN LATERAL (
    SELECT to_timestamp(CASE WHEN g.i = 1 OR a.planned THEN s.last_at
        ELSE s.first_at + (s.last_at - s.first_at) * (r.h %% 1000) / 1000 END) AS at
) AS t
"""
# Indexes no constraint depends on: the ones that can be dropped during a bulk load and rebuilt after.
SECONDARY_INDEXES = """
SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = %s::regclass AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""
ROWS_UP_TO = "SELECT count(*) FROM (SELECT FROM {} LIMIT %s) AS s"
DROP_INDEX = "DROP INDEX {}"
ANALYZE = "ANALYZE {}"


class _LocaleSpec(NamedTuple):
    code: str
    weight: int
    country: str
    tld: str
    free_mail: str  # most common first, as are cities
    cities: str
    calling_code: str
    trunk: str
    digits: int  # national significant number
    areas: str


LOCALES = (
    _LocaleSpec(
        "en_US",
        34,
        "United States",
        "com",
        "gmail.com yahoo.com outlook.com hotmail.com icloud.com aol.com",
        "New York|Los Angeles|Chicago|Houston|Phoenix|Philadelphia|San Antonio|San Diego|Dallas|Austin"
        "|Seattle|Denver|Boston|Atlanta|Miami|San Francisco|Portland|Nashville",
        "1",
        "",
        10,
        "212 310 312 713 602 215 210 619 214 512 206 303 617 404 305 415 503 615",
    ),
    _LocaleSpec(
        "en_GB",
        15,
        "United Kingdom",
        "co.uk",
        "gmail.com hotmail.co.uk yahoo.co.uk outlook.com btinternet.com",
        "London|Birmingham|Manchester|Leeds|Glasgow|Liverpool|Bristol|Edinburgh|Sheffield|Cardiff"
        "|Leicester|Nottingham|Brighton|Cambridge|Oxford",
        "44",
        "0",
        10,
        "20 121 161 113 141 151 117 131 114 29 7700 7911",
    ),
    _LocaleSpec(
        "de_DE",
        14,
        "Germany",
        "de",
        "gmail.com web.de gmx.de t-online.de outlook.de",
        "Berlin|Hamburg|München|Köln|Frankfurt am Main|Stuttgart|Düsseldorf|Leipzig|Dortmund|Essen"
        "|Bremen|Dresden|Hannover|Nürnberg|Freiburg im Breisgau",
        "49",
        "0",
        10,
        "30 40 89 221 69 711 211 341 151 160 170",
    ),
    _LocaleSpec(
        "fr_FR",
        12,
        "France",
        "fr",
        "gmail.com orange.fr free.fr hotmail.fr laposte.net sfr.fr",
        "Paris|Marseille|Lyon|Toulouse|Nice|Nantes|Strasbourg|Montpellier|Bordeaux|Lille|Rennes"
        "|Reims|Grenoble|Dijon|Angers",
        "33",
        "0",
        9,
        "1 2 3 4 5 6 7 9",
    ),
    _LocaleSpec(
        "es_ES",
        9,
        "Spain",
        "es",
        "gmail.com hotmail.es yahoo.es outlook.es telefonica.net",
        "Madrid|Barcelona|Valencia|Sevilla|Zaragoza|Málaga|Murcia|Palma|Bilbao|Alicante|Córdoba|Valladolid",
        "34",
        "",
        9,
        "91 93 96 95 976 952 968 971 94 6",
    ),
    _LocaleSpec(
        "it_IT",
        9,
        "Italy",
        "it",
        "gmail.com libero.it alice.it hotmail.it virgilio.it",
        "Roma|Milano|Napoli|Torino|Palermo|Genova|Bologna|Firenze|Bari|Verona|Padova|Trieste|Brescia",
        "39",
        "",
        10,
        "06 02 081 011 091 010 051 055 080 045 347 333 320",
    ),
    _LocaleSpec(
        "nl_NL",
        7,
        "Netherlands",
        "nl",
        "gmail.com ziggo.nl kpnmail.nl hotmail.nl outlook.com",
        "Amsterdam|Rotterdam|Den Haag|Utrecht|Eindhoven|Groningen|Tilburg|Almere|Breda|Nijmegen|Haarlem",
        "31",
        "0",
        9,
        "20 10 70 30 40 50 13 36 76 24 23 6",
    ),
)
SOURCES = {
    "website": 24,
    "linkedin": 14,
    "google_ads": 13,
    "referral": 12,
    "facebook_ads": 8,
    "import": 7,
    "trade_show": 6,
    "newsletter": 6,
    "cold_call": 5,
    "partner": 5,
}
# 'converted' is never drawn: a lead is converted exactly when a client is made from it.
STATUSES = {"new": 34, "contacted": 28, "qualified": 14, "lost": 13, "proposal": 7, "negotiation": 4}
# Per status: chance of logged activities, most activities, chance of an open follow-up task, score base.
STATUS_PLAN = {
    "new": (0.0, 0, 0.0, 15),
    "contacted": (0.35, 2, 0.25, 30),
    "qualified": (0.6, 2, 0.35, 55),
    "proposal": (0.9, 3, 0.4, 70),
    "negotiation": (1.0, 3, 0.5, 80),
    "lost": (0.35, 2, 0.0, 20),
    "converted": (0.9, 3, 0.0, 85),
}
CLIENT_STATUSES = {"active": 78, "inactive": 14, "churned": 8}
TAGS = "vip hot warm cold newsletter enterprise smb follow-up decision-maker budget-approved event partner".split()
INDUSTRIES = (
    "Software|Retail|Manufacturing|Healthcare|Financial Services|Real Estate|Construction|Logistics"
    "|Education|Hospitality|Marketing & Advertising|Legal Services|Energy|Automotive|Food & Beverage"
    "|Consulting|Telecommunications|Non-profit|Media|Insurance"
).split("|")
TITLES = (
    "CEO|Founder|Co-Founder|Managing Director|CTO|CFO|COO|Head of Sales|Sales Manager|Marketing Manager"
    "|Head of Marketing|Marketing Director|Procurement Manager|Purchasing Lead|Office Manager"
    "|Operations Manager|IT Manager|Head of IT|Product Manager|Account Manager|Business Development Manager"
    "|HR Manager|Finance Director|Project Manager|Owner|General Manager|VP Sales|Customer Success Lead"
    "|Software Engineer|Consultant"
).split("|")
NOTES = (
    "Asked for a callback next week.|Interested in the annual plan.|Met at the spring trade show."
    "|Requested pricing for 25 seats.|Currently evaluating two competitors.|Budget decision expected in Q3."
    "|Prefers email over phone.|Referred by an existing client.|Needs approval from the board."
    "|Downloaded the product brochure."
).split("|")
# (kind, subject, body) of done activities; open follow-ups are tasks from TASKS.
ACTIVITIES = (
    ("call", "Intro call", "Discussed current setup and main pain points."),
    ("call", "Follow-up call", "Went through open questions; next step agreed."),
    ("call", "Discovery call", "Mapped requirements, timeline and decision makers."),
    ("call", "Left voicemail", None),
    ("email", "Sent product overview", "Shared the overview deck and two case studies."),
    ("email", "Pricing sent", "Sent pricing for the requested package."),
    ("email", "Re: Your enquiry", "Answered questions about onboarding and support."),
    ("email", "Newsletter reply", None),
    ("meeting", "Product demo", "Demoed reporting and the mobile app; positive feedback."),
    ("meeting", "On-site visit", "Met the team and reviewed their current process."),
    ("meeting", "Contract review", "Walked through contract terms with legal."),
    ("note", "Internal note", "Decision maker is the operations director."),
    ("note", "Competitor mentioned", "Also talking to a competitor; price sensitive."),
    ("task", "Prepare proposal", None),
    ("task", "Send case study", None),
)
TASKS = (
    "Follow up on proposal|Schedule demo|Call back|Send contract|Check budget approval|Book on-site meeting"
)
_LEGAL_FORMS = set(
    "gmbh co kg kgaa ag ug ohg ltd plc inc llc group and sons sa sarl sas spa srl sl scoop slu "
    "snc bv nv vof en e et y und s a r l p c hotel asociados".split()
)
_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
NULL = r"\N"


@dataclass(frozen=True)
class DemoCounts:
    leads: int
    clients: int
    activities: int


@dataclass
class _Locale:
    """Pools for one locale, escaped for COPY's text format once so that rows never need escaping.

    Weighted pools repeat their common entries, so a pick is one `random()` and an index.
    """

    spec: _LocaleSpec
    areas: list[str]
    first: list[tuple[str, str]]  # (name, email slug)
    last: list[tuple[str, str]]
    companies: list[tuple[str, str, str]]  # (name, domain, custom_fields members)
    titles: list[str]
    cities: list[str]
    free_mail: list[str]


@dataclass
class _Plan:
    """Parallel arrays for INSERT_ACTIVITIES: one entry per lead or client with activities."""

    lead_ids: list[str | None] = field(default_factory=list)
    client_ids: list[str | None] = field(default_factory=list)
    owner_ids: list[str | None] = field(default_factory=list)
    first_at: list[int] = field(default_factory=list)
    last_at: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    planned: list[bool] = field(default_factory=list)


@dataclass
class _Conversions:
    """Parallel arrays for CONVERT_LEADS."""

    ids: list[str] = field(default_factory=list)
    lead_ids: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    last_at: list[int | None] = field(default_factory=list)


def load_demo_data(
    conn: psycopg.Connection,
    *,
    agency_id: uuid.UUID,
    leads: int,
    clients: int,
    owner_ids: Sequence[uuid.UUID] = (),
    seed: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> DemoCounts:
    """Add `leads` leads to the agency, make `clients` clients (converted leads first), add activities.

    Runs in the caller's transaction and never commits. A large load into a table that is nearly empty
    drops the table's secondary indexes and rebuilds them at the end, which holds an exclusive lock on
    that table until the caller commits.
    """
    if leads < 0 or clients < 0:
        raise ValueError("leads and clients must not be negative")
    seed = int.from_bytes(os.urandom(4)) if seed is None else seed
    report = on_progress or (lambda _phase, _rows: None)
    gen = _Generator(seed, [str(o) for o in owner_ids])
    agency = str(agency_id)
    converted = min(clients, leads)
    converting = bytearray(leads)
    for i in gen.rng.sample(range(leads), converted):
        converting[i] = 1
    moments = gen.moments(leads)

    with conn.cursor() as cur:
        with _bulk(cur, "leads", leads), _bulk(cur, "clients", clients), _bulk(cur, "activities", leads):
            with cur.copy(COPY_LEADS, writer=QueuedLibpqWriter(cur)) as copy:
                for start in range(0, leads, CHUNK_ROWS):
                    end = min(start + CHUNK_ROWS, leads)
                    copy.write(gen.lead_rows(agency, moments[start:end], converting[start:end]))
                    report("leads", end - start)
            # Fresh statistics, or the planner takes the new rows for an empty table and hashes all of them.
            cur.execute(sql.SQL(ANALYZE).format(sql.Identifier("public", "leads")))
            if converted:
                cur.execute(CONVERT_LEADS, vars(gen.conversions) | {"agency_id": agency})
                report("clients", converted)
            if clients > converted:
                with cur.copy(COPY_CLIENTS, writer=QueuedLibpqWriter(cur)) as copy:
                    for start in range(converted, clients, CHUNK_ROWS):
                        rows = min(CHUNK_ROWS, clients - start)
                        copy.write(gen.client_rows(agency, rows))
                        report("clients", rows)
            cur.execute(INSERT_ACTIVITIES, gen.activity_params(agency, seed))
            activities = max(cur.rowcount, 0)
            report("activities", activities)
    return DemoCounts(leads=leads, clients=clients, activities=activities)


@contextmanager
def _bulk(cur: psycopg.Cursor, table: str, adding: int) -> Iterator[None]:
    """Drop the table's secondary indexes for a large load into a (nearly) empty table; rebuild after.

    Building a GIN index once is several times cheaper than keeping it up to date row by row. Nothing
    needs undoing on error: the caller's rollback restores the indexes with everything else.
    """
    name = sql.Identifier("public", table)
    cur.execute(sql.SQL(ROWS_UP_TO).format(name), (adding,))
    existing = cur.fetchone()
    if adding < BULK_MIN_ROWS or existing is None or existing[0] >= adding:
        yield
        return
    indexes = cur.execute(SECONDARY_INDEXES, (f"public.{table}",)).fetchall()
    for schema, index, _definition in indexes:
        cur.execute(sql.SQL(DROP_INDEX).format(sql.Identifier(schema, index)))
    yield
    for _schema, _index, definition in indexes:
        cur.execute(definition)  # pg_get_indexdef's own output, not text built here


class _Generator:
    def __init__(self, seed: int, owners: list[str]) -> None:
        self.rng = random.Random(seed)
        self.locales = [_build_locale(spec, seed) for spec in LOCALES]
        self.locale_weights = list(accumulate(spec.weight for spec in LOCALES))
        self.owners = [*owners, *[NULL] * max(1, len(owners) // 5)] if owners else [NULL]  # some unassigned
        # Anchored on today's midnight (UTC) so that a seed gives the same dates all day.
        today = datetime.combine(date.today(), datetime.min.time(), UTC)
        self.now = int(today.timestamp())
        self.start = self.now - HISTORY_DAYS * DAY
        days = [today.date() - timedelta(days=HISTORY_DAYS - d) for d in range(HISTORY_DAYS)]
        self.day_names = [d.isoformat() for d in days]
        self.times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY)]
        # A growing agency gets more leads lately, few at weekends, most in office hours.
        self.day_weights = list(
            accumulate(
                (1 + 2 * i / HISTORY_DAYS) * (0.3 if d.weekday() > 4 else 1) for i, d in enumerate(days)
            )
        )
        self.hour_weights = list(
            accumulate([1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 14, 11, 14, 16, 15, 13, 10, 7, 5, 4, 3, 2, 1])
        )
        self.tags = ["{}"] * 300 + [
            "{" + ",".join(self.rng.sample(TAGS, k)) + "}" for k in [1] * 120 + [2] * 60 + [3] * 20
        ]
        self.values = [NULL] * 300 + [
            f"{round(self.rng.lognormvariate(8.5, 1.1), -1):.2f}" for _ in range(2000)
        ]
        self.notes = [NULL] * 90 + NOTES
        self.extras = [
            "",
            "",
            "",
            '"newsletter_opt_in": true',
            '"newsletter_opt_in": false',
            '"preferred_contact": "phone"',
            '"preferred_contact": "email"',
        ]
        self.plan = _Plan()
        self.conversions = _Conversions()

    def ts(self, at: int) -> str:
        offset = at - self.start
        return f"{self.day_names[offset // DAY]} {self.times[offset % DAY]}"

    def moments(self, n: int) -> list[int]:
        """Sorted, so that ids (stamped with these) and the created_at indexes only grow at the right."""
        days = self.rng.choices(range(HISTORY_DAYS), cum_weights=self.day_weights, k=n)
        hours = self.rng.choices(range(24), cum_weights=self.hour_weights, k=n)
        rnd = self.rng.random
        return sorted(
            self.start + d * DAY + h * 3600 + int(rnd() * 3600) for d, h in zip(days, hours, strict=True)
        )

    def add_activities(
        self,
        lead_id: str | None,
        client_id: str | None,
        owner: str,
        status: str,
        first_at: int,
        last_at: int,
        planned: float,
    ) -> None:
        plan, rnd = self.plan, self.rng.random
        plan.lead_ids.append(lead_id)
        plan.client_ids.append(client_id)
        plan.owner_ids.append(None if owner == NULL else owner)
        plan.first_at.append(first_at)
        plan.last_at.append(last_at)
        plan.counts.append(1 + int(rnd() * STATUS_PLAN[status][1]))
        plan.planned.append(rnd() < planned)

    def person(self, loc: _Locale) -> tuple[str, ...]:
        """first, last, email, phone, company, title, website, city, country, custom_fields."""
        rnd = self.rng.random
        first, fslug = loc.first[int(rnd() * len(loc.first))]
        last, lslug = loc.last[int(rnd() * len(loc.last))]
        company, domain, members = (
            loc.companies[int(rnd() * len(loc.companies))] if rnd() < 0.8 else ("", "", "")
        )
        r = rnd()
        local = (
            f"{fslug}.{lslug}"
            if r < 0.45
            else f"{fslug[0]}.{lslug}"
            if r < 0.6
            else f"{fslug}{lslug}"
            if r < 0.7
            else f"{fslug[0]}{lslug}"
            if r < 0.8
            else f"{fslug}.{lslug}{int(r * 1000) % 97 + 1}"
            if r < 0.92
            else f"{fslug}_{lslug}{1960 + int(r * 10000) % 45}"
        )
        host = domain if domain and rnd() < 0.65 else loc.free_mail[int(rnd() * len(loc.free_mail))]
        r = rnd()
        email = NULL if r < 0.07 else f"{local}@{host}"
        if r > 0.99:  # typed by hand, for email_normalized to tidy up
            email = email.capitalize()
        phone = self.phone(loc) if email == NULL or rnd() < 0.75 else NULL
        extra = self.extras[int(rnd() * len(self.extras))]
        fields = "{" + ", ".join(p for p in (members, extra) if p) + "}"
        # One draw for the sparse fields: a record missing one thing tends to miss others, and first and
        # last name are never both missing (leads_has_identity).
        r = rnd()
        return (
            first if r < 0.98 else NULL,
            last if r > 0.03 else NULL,
            email,
            phone,
            company or NULL,
            loc.titles[int(rnd() * len(loc.titles))] if company and r < 0.9 else NULL,
            f"https://www.{domain}" if domain and r < 0.7 else NULL,
            loc.cities[int(rnd() * len(loc.cities))] if r < 0.92 else NULL,
            loc.spec.country,
            fields,
        )

    def phone(self, loc: _Locale) -> str:
        rnd, spec = self.rng.random, loc.spec
        area = loc.areas[int(rnd() * len(loc.areas))]
        size = spec.digits - len(area)
        sub = f"{int(rnd() * 10**size):0{size}d}"
        style = rnd()
        if spec.calling_code == "1":
            return (
                f"({area}) {sub[:3]}-{sub[3:]}"
                if style < 0.5
                else f"+1{area}{sub}"
                if style < 0.8
                else f"{area}-{sub[:3]}-{sub[3:]}"
            )
        if spec.calling_code == "33":
            grouped = " ".join(sub[i : i + 2] for i in range(0, size, 2))
        else:
            grouped = f"{sub[:-4]} {sub[-4:]}" if size > 5 else sub
        if style < 0.5:
            return f"{spec.trunk}{area} {grouped}"
        return f"+{spec.calling_code}{area}{sub}" if style < 0.8 else f"+{spec.calling_code} {area} {grouped}"

    def lead_rows(self, agency: str, moments: list[int], converting: bytearray) -> str:
        n, rng, rnd = len(moments), self.rng, self.rng.random
        locales = rng.choices(self.locales, cum_weights=self.locale_weights, k=n)
        sources = rng.choices(list(SOURCES), weights=list(SOURCES.values()), k=n)
        statuses = rng.choices(list(STATUSES), weights=list(STATUSES.values()), k=n)
        owners, tags = rng.choices(self.owners, k=n), rng.choices(self.tags, k=n)
        values, notes = rng.choices(self.values, k=n), rng.choices(self.notes, k=n)
        entropy = os.urandom(10 * n).hex()
        end = self.now - 60
        out = []
        for i, created in enumerate(moments):
            status, owner = statuses[i], owners[i]
            lead_id = _uuid7(created, entropy[20 * i : 20 * i + 20])
            converted_at = limit = 0
            if converting[i]:
                status = "converted"
                converted_at = limit = created + int((end - created) * (0.05 + 0.4 * rnd())) + 60
            chance, _, planned, score_base = STATUS_PLAN[status]
            last_at = created + int(((limit or end) - created) * (0.3 + 0.7 * rnd())) if rnd() < chance else 0
            if last_at:
                self.add_activities(lead_id, None, owner, status, created, last_at, planned)
            r = rnd()
            score = str(min(100, max(0, score_base + int(r * 400) % 30 - 10))) if r < 0.85 else NULL
            person = self.person(locales[i])
            out.append(
                "\t".join(
                    (
                        lead_id,
                        agency,
                        *person[:9],
                        sources[i],
                        status,
                        owner,
                        score,
                        values[i],
                        tags[i],
                        person[9],
                        notes[i],
                        self.ts(last_at) if last_at else NULL,
                        self.ts(converted_at) if converted_at else NULL,
                        self.ts(created),
                        self.ts(max(created, last_at, converted_at)),
                    )
                )
            )
            if converted_at:
                self.convert(lead_id, owner, converted_at)
        return "\n".join(out) + "\n"

    def convert(self, lead_id: str, owner: str, converted_at: int) -> None:
        rnd, c = self.rng.random, self.conversions
        client_id = _uuid7(converted_at, os.urandom(10).hex())
        last_at = converted_at + int((self.now - 60 - converted_at) * rnd()) if rnd() < 0.6 else None
        if last_at:
            self.add_activities(None, client_id, owner, "converted", converted_at, last_at, 0.0)
        c.ids.append(client_id)
        c.lead_ids.append(lead_id)
        c.statuses.append(self.rng.choices(list(CLIENT_STATUSES), weights=list(CLIENT_STATUSES.values()))[0])
        c.values.append(f"{round(self.rng.lognormvariate(9, 1.2), -1):.2f}")
        c.last_at.append(last_at)

    def client_rows(self, agency: str, n: int) -> str:
        rng, rnd = self.rng, self.rng.random
        locales = rng.choices(self.locales, cum_weights=self.locale_weights, k=n)
        statuses = rng.choices(list(CLIENT_STATUSES), weights=list(CLIENT_STATUSES.values()), k=n)
        owners, tags, notes = (
            rng.choices(self.owners, k=n),
            rng.choices(self.tags, k=n),
            rng.choices(self.notes, k=n),
        )
        entropy = os.urandom(10 * n).hex()
        out = []
        for i, created in enumerate(self.moments(n)):
            client_id = _uuid7(created, entropy[20 * i : 20 * i + 20])
            last_at = created + int((self.now - 60 - created) * rnd()) if rnd() < 0.6 else 0
            if last_at:
                self.add_activities(None, client_id, owners[i], "converted", created, last_at, 0.0)
            person = self.person(locales[i])
            out.append(
                "\t".join(
                    (
                        client_id,
                        agency,
                        *person[:9],
                        statuses[i],
                        owners[i],
                        f"{round(rng.lognormvariate(9, 1.2), -1):.2f}",
                        tags[i],
                        person[9],
                        notes[i],
                        self.ts(last_at) if last_at else NULL,
                        self.ts(created),
                        self.ts(max(created, last_at)),
                    )
                )
            )
        return "\n".join(out) + "\n"

    def activity_params(self, agency: str, seed: int) -> dict[str, object]:
        return vars(self.plan) | {
            "agency_id": agency,
            "seed": seed,
            "now": self.now,
            "kinds": [a[0] for a in ACTIVITIES],
            "subjects": [a[1] for a in ACTIVITIES],
            "bodies": [a[2] for a in ACTIVITIES],
            "tasks": TASKS.split("|"),
        }


def _uuid7(at: int, entropy: str) -> str:
    """A UUIDv7 for unix time `at` (plus sub-second noise) from 20 random hex digits."""
    t = f"{at * 1000 + int(entropy[19], 16) * 61:012x}"
    return f"{t[:8]}-{t[8:]}-7{entropy[:3]}-{_VARIANT[entropy[3]]}{entropy[4:7]}-{entropy[7:19]}"


def _build_locale(spec: _LocaleSpec, seed: int) -> _Locale:
    fake = Faker(spec.code)
    fake.seed_instance(seed)

    def unique(make: Callable[[], str], n: int) -> list[str]:
        return list(dict.fromkeys(_copy_text(make()) for _ in range(n)))  # a set's order would vary by run

    companies = []
    for name in unique(fake.company, 600):
        words = [w for w in _slug(name, "-").split("-") if w not in _LEGAL_FORMS]
        if words:
            members = {
                "industry": fake.random_element(INDUSTRIES),
                "employees": int(fake.random.lognormvariate(3.5, 1.5)) + 1,
            }
            companies.append(
                (name, f"{''.join(words[:2])}.{spec.tld}", _copy_text(json.dumps(members)[1:-1]))
            )
    cities = spec.cities.split("|")
    mail = spec.free_mail.split()
    return _Locale(
        spec=spec,
        areas=spec.areas.split(),
        first=[(n, _slug(n) or "info") for n in unique(fake.first_name, 1200)],
        last=[(n, _slug(n) or "contact") for n in unique(fake.last_name, 1200)],
        companies=companies,
        titles=[*TITLES, *TITLES, *unique(fake.job, 30)],
        cities=[c for i, c in enumerate(cities) for _ in range(len(cities) - i)],
        free_mail=[m for i, m in enumerate(mail) for _ in range(len(mail) * 2 if i == 0 else len(mail) - i)],
    )


def _copy_text(value: str) -> str:
    return value.translate(_COPY_SPECIAL)


def _slug(name: str, sep: str = "") -> str:
    """ASCII, lower case, for email local parts and domains: 'Müller-Lüdenscheidt' -> 'mueller-luedenscheidt'."""
    name = name.lower().replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9-]+", sep, ascii_name).strip("-")
