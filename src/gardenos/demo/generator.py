"""Realistic CRM demo data: leads, clients converted from them, and activities, loaded with COPY.

Faker only fills small per-locale pools (names, companies, job titles); rows are combined from them with
a seeded `random.Random`, which makes a million leads a matter of seconds. One seed gives the same
people, companies, statuses, dates and activities. Ids are the exception: UUIDv7 stamped with the row's
`created_at` (id order is creation order, as in real data) with random bits from the OS, so that loading
twice with one seed cannot collide.

What later steps need (which leads convert and when, how many activities, the latest one's time) is
decided before a lead is written, so no lead is updated after COPY: an update of a fresh row rewrites it
and all of its index entries.
"""

from __future__ import annotations

import json
import os
import random
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

import psycopg
from faker import Faker
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from psycopg.pq import TransactionStatus

from gardenos.crm.contacts.fields import CLIENT, LEAD, PERSON, STAMPS, column_list, text
from gardenos.errors import BadRequest

ProgressCallback = Callable[[str, int], None]

CHUNK_ROWS = 50_000
DAY = 86_400
HISTORY_DAYS = 730
# Below this, keeping indexes up to date row by row is cheap and not worth an exclusive lock.
BULK_MIN_ROWS = 20_000

# The rows are written in these orders (the one column list, crm/contacts/fields.py): the kind's writable
# columns, then its stamps.
_LEAD_ROW = ("id", "agency_id", *LEAD.writable, *STAMPS)
_CLIENT_ROW = ("id", "agency_id", *CLIENT.writable, "last_activity_at", "created_at", "updated_at")
COPY_LEADS = text(sql.SQL("COPY public.leads ({}) FROM STDIN").format(column_list(_LEAD_ROW)))
COPY_CLIENTS = text(sql.SQL("COPY public.clients ({}) FROM STDIN").format(column_list(_CLIENT_ROW)))
# The lead was written with status 'converted' and its converted_at; the client copies the person.
CONVERT_LEADS = text(
    sql.SQL("""
INSERT INTO public.clients (id, agency_id, lead_id, {person}, status, owner_id, lifetime_value, tags,
    custom_fields, last_activity_at, converted_at, created_at, updated_at)
SELECT c.id, l.agency_id, l.id, {lead_person}, c.status, l.owner_id, c.lifetime_value, l.tags,
    l.custom_fields, to_timestamp(c.last_at), l.converted_at, l.converted_at,
    greatest(l.converted_at, to_timestamp(c.last_at))
FROM unnest(%(ids)s::uuid[], %(lead_ids)s::uuid[], %(statuses)s::text[], %(values)s::numeric[],
        %(last_at)s::bigint[]) AS c(id, lead_id, status, lifetime_value, last_at)
JOIN public.leads l ON l.agency_id = %(agency_id)s AND l.id = c.lead_id
""").format(person=column_list(PERSON), lead_person=column_list(PERSON, "l"))
)
# One row per activity, expanded from one entry per lead or client. Choices come from a hash of the
# entry's position and the seed rather than random(): repeatable, and the session's random() untouched.
# Activity 1 is the latest; it falls on the subject's last_activity_at. An open follow-up comes last.
# Like the other moments, those in between move into office hours (UTC) of their day when they can.
INSERT_ACTIVITIES = """
INSERT INTO public.activities (agency_id, lead_id, client_id, kind, subject, body, status, due_at,
    completed_at, created_by, metadata, occurred_at, created_at, updated_at)
SELECT %(agency_id)s, s.lead_id, s.client_id, a.kind, a.subject, a.body,
    CASE WHEN p.open THEN 'planned' WHEN a.kind = 'meeting' AND r.h %% 17 = 0 THEN 'cancelled'
        ELSE 'done' END,
    CASE WHEN p.open THEN to_timestamp(%(now)s + 86400 * (1 + r.h %% 21) + 3600 * (8 + r.h %% 9)) END,
    CASE WHEN a.kind = 'task' AND NOT p.open THEN t.at END,
    s.owner_id,
    CASE a.kind
        WHEN 'call' THEN jsonb_build_object('duration_sec', 20 + r.h %% 1800,
            'direction', (ARRAY['outbound', 'outbound', 'inbound'])[1 + r.h %% 3])
        WHEN 'email' THEN jsonb_build_object('direction', CASE WHEN a.subject LIKE 'Re:%%' THEN 'inbound'
            ELSE 'outbound' END)
        WHEN 'meeting' THEN jsonb_build_object('location', (ARRAY['video', 'onsite', 'phone'])[1 + r.h %% 3])
        ELSE '{}'::jsonb END,
    t.at, t.at, t.at
FROM unnest(%(lead_ids)s::uuid[], %(client_ids)s::uuid[], %(owner_ids)s::uuid[], %(first_at)s::bigint[],
        %(last_at)s::bigint[], %(counts)s::int[], %(open)s::bool[])
    WITH ORDINALITY AS s(lead_id, client_id, owner_id, first_at, last_at, n, open, ord)
CROSS JOIN LATERAL generate_series(1, s.n + s.open::int) AS g(i)
CROSS JOIN LATERAL (SELECT hashint8extended(s.ord * 8 + g.i, %(seed)s) & 2147483647 AS h) AS r
CROSS JOIN LATERAL (SELECT g.i > s.n AS open, 1 + r.h / 64 %% cardinality(%(kinds)s::text[]) AS pick) AS p
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.open THEN 'task' ELSE (%(kinds)s::text[])[p.pick] END AS kind,
        CASE WHEN p.open THEN (%(tasks)s::text[])[1 + r.h %% cardinality(%(tasks)s::text[])]
            ELSE (%(subjects)s::text[])[p.pick] END AS subject,
        CASE WHEN NOT p.open THEN (%(bodies)s::text[])[p.pick] END AS body
) AS a
CROSS JOIN LATERAL (SELECT s.first_at + (s.last_at - s.first_at) * (r.h %% 1000) / 1000 AS at) AS m
CROSS JOIN LATERAL (SELECT m.at - m.at %% 86400 + 28800 + r.h / 1000 %% 36000 AS at) AS office
CROSS JOIN LATERAL (
    SELECT to_timestamp(CASE WHEN g.i = 1 OR p.open THEN s.last_at
        WHEN office.at BETWEEN s.first_at AND s.last_at THEN office.at ELSE m.at END) AS at
) AS t
"""
# Indexes no constraint depends on: the ones a bulk load can drop and rebuild.
SECONDARY_INDEXES = """
SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = %s::regclass AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""
ROWS_UP_TO = "SELECT count(*) FROM (SELECT FROM {} LIMIT %s) AS s"
DROP_INDEX = "DROP INDEX {}"
ANALYZE = "ANALYZE {}"
# The same locks the foreign key checks would take, once instead of once per row.
LOCK_AGENCY = "SELECT id FROM public.agencies WHERE id = %s FOR KEY SHARE"
LOCK_OWNERS = "SELECT id FROM auth.users WHERE id = ANY(%s::uuid[]) FOR KEY SHARE"
TRIGGERS = "SELECT current_setting('is_superuser') = 'on', current_setting('session_replication_role')"
SET_REPLICATION_ROLE = "SELECT set_config('session_replication_role', %s, true)"


def _records(text: str, separator: str) -> list[list[str]]:
    """The '|'-separated fields of records split on `separator`, whitespace collapsed."""
    return [[f.strip() for f in " ".join(r.split()).split("|")] for r in text.strip().split(separator)]


# code | weight | country | domain | calling code | trunk prefix | national number digits | area codes
# | free-mail domains | cities (the most common first)
LOCALES = _records(
    """
en_US | 34 | United States | com | 1 | | 10 | 212 310 312 713 602 215 210 619 214 512 206 303 617 404 305
    | gmail.com yahoo.com outlook.com hotmail.com icloud.com aol.com
    | New York, Los Angeles, Chicago, Houston, Phoenix, Philadelphia, San Diego, Dallas, Austin, Seattle
en_GB | 15 | United Kingdom | co.uk | 44 | 0 | 10 | 20 121 161 113 141 151 117 131 114 29 7700 7911
    | gmail.com hotmail.co.uk yahoo.co.uk outlook.com btinternet.com
    | London, Birmingham, Manchester, Leeds, Glasgow, Liverpool, Bristol, Edinburgh, Sheffield, Cardiff
de_DE | 14 | Germany | de | 49 | 0 | 10 | 30 40 89 221 69 711 211 341 151 160 170
    | gmail.com web.de gmx.de t-online.de outlook.de
    | Berlin, Hamburg, München, Köln, Frankfurt am Main, Stuttgart, Düsseldorf, Leipzig, Dortmund, Bremen
fr_FR | 12 | France | fr | 33 | 0 | 9 | 1 2 3 4 5 6 7 9
    | gmail.com orange.fr free.fr hotmail.fr laposte.net sfr.fr
    | Paris, Marseille, Lyon, Toulouse, Nice, Nantes, Strasbourg, Montpellier, Bordeaux, Lille, Rennes
es_ES | 9 | Spain | es | 34 | | 9 | 91 93 96 95 976 952 968 971 94 6
    | gmail.com hotmail.es yahoo.es outlook.es telefonica.net
    | Madrid, Barcelona, Valencia, Sevilla, Zaragoza, Málaga, Murcia, Palma, Bilbao, Alicante, Córdoba
it_IT | 9 | Italy | it | 39 | | 10 | 06 02 081 011 091 010 051 055 080 045 347 333 320
    | gmail.com libero.it alice.it hotmail.it virgilio.it
    | Roma, Milano, Napoli, Torino, Palermo, Genova, Bologna, Firenze, Bari, Verona, Padova, Trieste
nl_NL | 7 | Netherlands | nl | 31 | 0 | 9 | 20 10 70 30 40 50 13 36 76 24 23 6
    | gmail.com ziggo.nl kpnmail.nl hotmail.nl outlook.com
    | Amsterdam, Rotterdam, Den Haag, Utrecht, Eindhoven, Groningen, Tilburg, Almere, Breda, Nijmegen
""".replace("\n    |", " |"),
    "\n",
)
SOURCES = {"website": 24, "linkedin": 14, "google_ads": 13, "referral": 12, "facebook_ads": 8, "import": 7}
SOURCES |= {"trade_show": 6, "newsletter": 6, "cold_call": 5, "partner": 5}
# 'converted' is never drawn: a lead is converted exactly when a client is made from it.
STATUSES = {"new": 34, "contacted": 28, "qualified": 14, "lost": 13, "proposal": 7, "negotiation": 4}
# Chance of logged activities, most of them, chance of an open follow-up task, typical score.
STATUS_PLAN = {"new": (0.0, 0, 0.0, 15), "contacted": (0.3, 2, 0.25, 30), "qualified": (0.5, 2, 0.35, 55)}
STATUS_PLAN |= {"proposal": (0.8, 3, 0.4, 70), "negotiation": (0.9, 3, 0.5, 80), "lost": (0.3, 2, 0.0, 20)}
STATUS_PLAN |= {"converted": (0.8, 2, 0.0, 85)}
CLIENT_STATUSES = {"active": 78, "inactive": 14, "churned": 8}
[TAGS, INDUSTRIES, TITLES, NOTES, TASKS, LEGAL_FORMS] = _records(
    """
vip | hot | warm | cold | newsletter | enterprise | smb | follow-up | decision-maker | budget-approved | event
;
Software | Retail | Manufacturing | Healthcare | Financial Services | Real Estate | Construction | Logistics |
Education | Hospitality | Marketing & Advertising | Legal Services | Energy | Automotive | Food & Beverage |
Consulting | Telecommunications | Non-profit | Media | Insurance
;
CEO | Founder | Co-Founder | Managing Director | CTO | CFO | COO | Head of Sales | Sales Manager | Owner |
Marketing Manager | Head of Marketing | Procurement Manager | Purchasing Lead | Office Manager | IT Manager |
Operations Manager | Head of IT | Product Manager | Account Manager | Business Development Manager |
VP Sales | HR Manager | Finance Director | Project Manager | General Manager | Customer Success Lead
;
Asked for a callback next week. | Interested in the annual plan. | Met at the spring trade show. |
Requested pricing for 25 seats. | Evaluating two competitors. | Budget decision expected in Q3. |
Prefers email over phone. | Referred by an existing client. | Needs approval from the board.
;
Follow up on proposal | Schedule demo | Call back | Send contract | Check budget approval | Book a visit
;
gmbh | co | kg | kgaa | ag | ug | ltd | plc | inc | llc | group | and | sons | sa | sarl | sas | spa | srl |
sl | scoop | bv | nv | e | et | y | und | s | a | r | l
""",
    ";",
)
# kind | subject | body of done activities
ACTIVITIES = _records(
    """
call | Intro call | Discussed current setup and main pain points.
call | Follow-up call | Went through open questions; next step agreed.
call | Discovery call | Mapped requirements, timeline and decision makers.
call | Left voicemail |
email | Sent product overview | Shared the overview deck and two case studies.
email | Pricing sent | Sent pricing for the requested package.
email | Re: Your enquiry | Answered questions about onboarding and support.
meeting | Product demo | Demoed reporting and the mobile app; positive feedback.
meeting | On-site visit | Met the team and reviewed their current process.
meeting | Contract review | Walked through contract terms with their legal team.
note | Internal note | Decision maker is the operations director.
note | Competitor mentioned | Also talking to a competitor; price sensitive.
task | Prepare proposal |
task | Send case study |
""",
    "\n",
)
EMAIL_PATTERNS = ["{f}.{l}"] * 9 + ["{i}.{l}"] * 3 + ["{f}{l}", "{i}{l}", "{f}.{l}{n}", "{f}_{l}{y}"]
EXTRA_FIELDS = ["", "", "", '"newsletter_opt_in": true', '"newsletter_opt_in": false']
EXTRA_FIELDS += ['"preferred_contact": "phone"', '"preferred_contact": "email"']
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
NULL = r"\N"


@dataclass(frozen=True)
class DemoCounts:
    leads: int
    clients: int
    activities: int


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

    Runs in the caller's transaction and never commits. A large load into a (nearly) empty table drops
    the table's secondary indexes and rebuilds them after, which locks the table until the caller ends
    the transaction. For a superuser, triggers (so the row-by-row foreign key checks) are off meanwhile.
    """
    if leads < 0 or clients < 0:
        raise BadRequest("the numbers of leads and clients cannot be negative")
    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        # Each statement would commit alone, and a failure could leave the indexes dropped.
        raise ValueError("load_demo_data needs a transaction: turn autocommit off or open one")
    conn.execute("SET LOCAL gardenos.audit = 'off'")
    seed = int.from_bytes(os.urandom(4)) if seed is None else seed
    report = on_progress or (lambda _phase, _rows: None)
    owners = [str(o) for o in owner_ids]
    converted = min(clients, leads)
    with conn.cursor() as cur, _without_triggers(cur, agency_id, owners):
        gen, agency = _Generator(seed, owners), str(agency_id)
        converting = bytearray(leads)
        for i in gen.rng.sample(range(leads), converted):
            converting[i] = 1
        created = gen.moments(leads)
        with (
            _bulk(cur, "leads", leads) as rebuilt,
            cur.copy(COPY_LEADS, writer=QueuedLibpqWriter(cur)) as copy,
        ):
            for start in range(0, leads, CHUNK_ROWS):
                end = min(start + CHUNK_ROWS, leads)
                copy.write(gen.lead_rows(agency, created[start:end], converting[start:end]))
                report("leads", end - start)
        if rebuilt:  # else the planner would take the new rows for an empty table, and hash them all
            cur.execute(sql.SQL(ANALYZE).format(sql.Identifier("public", "leads")))
        with _bulk(cur, "clients", clients):
            if converted:
                conversions = _arrays("ids lead_ids statuses values last_at", gen.conversions)
                cur.execute(CONVERT_LEADS, conversions | {"agency_id": agency})
                report("clients", converted)
            if created := gen.moments(clients - converted):
                with cur.copy(COPY_CLIENTS, writer=QueuedLibpqWriter(cur)) as copy:
                    for start in range(0, len(created), CHUNK_ROWS):
                        chunk = created[start : start + CHUNK_ROWS]
                        copy.write(gen.client_rows(agency, chunk))
                        report("clients", len(chunk))
        with _bulk(cur, "activities", len(gen.activities)):
            activities = cur.execute(INSERT_ACTIVITIES, gen.activity_params(agency, seed)).rowcount
        report("activities", activities)
    return DemoCounts(leads=leads, clients=clients, activities=activities)


@contextmanager
def _without_triggers(cur: psycopg.Cursor, agency_id: uuid.UUID, owners: list[str]) -> Iterator[None]:
    """Check and lock what the new rows reference; then, for a superuser, turn triggers off meanwhile.

    Every other reference points at a row this load inserts, so the foreign key triggers (about half the
    cost of the activities) would find nothing to refuse. pg_restore --disable-triggers does the same.
    """
    if cur.execute(LOCK_AGENCY, (agency_id,)).fetchone() is None:
        raise BadRequest(f"there is no agency {agency_id}")
    if missing := set(owners) - {str(row[0]) for row in cur.execute(LOCK_OWNERS, (owners,))}:
        raise BadRequest(f"there are no users {', '.join(sorted(missing))} to own the demo data")
    superuser, role = cur.execute(TRIGGERS).fetchone() or (False, "")
    if not superuser:
        yield
        return
    cur.execute(SET_REPLICATION_ROLE, ("replica",))
    yield
    cur.execute(SET_REPLICATION_ROLE, (role,))  # on error, the caller's rollback restores it


@contextmanager
def _bulk(cur: psycopg.Cursor, table: str, adding: int) -> Iterator[bool]:
    """For a large load into a (nearly) empty table, drop its secondary indexes and rebuild them after.

    Building an index once is several times cheaper than updating it row by row, above all for GIN.
    Yields whether it does. On error, the caller's rollback restores the indexes with the rest.
    """
    count = sql.SQL(ROWS_UP_TO).format(sql.Identifier("public", table))
    existing = cur.execute(count, (adding,)).fetchone() if adding >= BULK_MIN_ROWS else None
    if existing is None or existing[0] >= adding:
        yield False
        return
    indexes = cur.execute(SECONDARY_INDEXES, (f"public.{table}",)).fetchall()
    for schema, index, _definition in indexes:
        cur.execute(sql.SQL(DROP_INDEX).format(sql.Identifier(schema, index)))
    yield True
    for _schema, _index, definition in indexes:
        cur.execute(definition)  # pg_get_indexdef's output, not text built here


@dataclass
class _Locale:
    """One locale's pools, escaped for COPY's text format once so that rows never need escaping."""

    country: str
    calling_code: str
    digits: int  # of a national number
    areas: list[str]
    phone_formats: list[str]
    first: list[tuple[str, str]]  # (name, email slug)
    last: list[tuple[str, str]]
    companies: list[tuple[str, str, str]]  # (name, domain, custom_fields members), or empty strings
    titles: list[str]
    cities: list[str]  # weighted pools repeat their common entries
    free_mail: list[str]


class _Generator:
    def __init__(self, seed: int, owners: list[str]) -> None:
        self.rng = rng = random.Random(seed)
        self.locales = [_build_locale(row, seed) for row in LOCALES]
        self.locale_weights = list(accumulate(int(row[1]) for row in LOCALES))
        self.owners = [*owners, *[NULL] * max(1, len(owners) // 5)] if owners else [NULL]
        # Anchored on today's midnight (UTC), so that a seed gives the same dates all day.
        today = datetime.combine(date.today(), datetime.min.time(), UTC)
        self.now = int(today.timestamp())
        self.start = self.now - HISTORY_DAYS * DAY
        days = [today.date() - timedelta(days=HISTORY_DAYS - d) for d in range(HISTORY_DAYS)]
        self.day_names = [d.isoformat() for d in days]
        self.times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY)]
        # A growing agency: more leads lately, few at weekends, most in office hours.
        growth = [(1 + 2 * i / HISTORY_DAYS) * (0.3 if d.weekday() > 4 else 1) for i, d in enumerate(days)]
        hours = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 14, 11, 14, 16, 15, 13, 10, 7, 5, 4, 3, 2, 1]
        self.day_weights, self.hour_weights = list(accumulate(growth)), list(accumulate(hours))
        tag_sets = [rng.sample(TAGS, k) for k in [1] * 120 + [2] * 60 + [3] * 20]
        self.tags = ["{}"] * 300 + ["{" + ",".join(tags) + "}" for tags in tag_sets]
        self.values = [NULL] * 300 + [f"{round(rng.lognormvariate(8.5, 1.1), -1):.2f}" for _ in range(2000)]
        self.notes = [NULL] * 90 + NOTES
        # (lead, client, owner, first_at, last_at, count, open follow-up) for INSERT_ACTIVITIES
        self.activities: list[tuple[str, ...]] = []
        # (client, lead, status, lifetime value, last_at) for CONVERT_LEADS
        self.conversions: list[tuple[str, ...]] = []

    def moments(self, n: int) -> list[int]:
        """Sorted, so that ids (stamped with these) and the created_at indexes only grow at one end."""
        days = self.rng.choices(range(HISTORY_DAYS), cum_weights=self.day_weights, k=n)
        hours = self.rng.choices(range(24), cum_weights=self.hour_weights, k=n)
        rnd, start = self.rng.random, self.start
        return sorted(
            start + d * DAY + h * 3600 + int(rnd() * 3600) for d, h in zip(days, hours, strict=True)
        )

    def between(self, earliest: int, latest: int, low: float = 0.0, high: float = 1.0) -> int:
        """A moment in that [low, high] part of [earliest, latest], in office hours if its day allows."""
        at = earliest + int((latest - earliest) * (low + (high - low) * self.rng.random()))
        office = at - at % DAY + 8 * 3600 + int(self.rng.random() * 36000)
        return office if earliest <= office <= latest else at

    def ts(self, at: int) -> str:
        offset = at - self.start
        return f"{self.day_names[offset // DAY]} {self.times[offset % DAY]}"

    def people(self, n: int) -> Iterator[tuple[str, str]]:
        """n people of mixed locales: the COPY text of first name to country, and the custom fields."""
        picks = self.rng.choices(range(len(self.locales)), cum_weights=self.locale_weights, k=n)
        counts = Counter(picks)
        batches = [self.locale_people(loc, counts[i]) for i, loc in enumerate(self.locales)]
        return (next(batches[p]) for p in picks)

    def locale_people(self, loc: _Locale, k: int) -> Iterator[tuple[str, str]]:
        rng, rnd = self.rng, self.rng.random
        pools = (loc.first, loc.last, loc.companies, EMAIL_PATTERNS, loc.free_mail, loc.titles, loc.cities)
        people = zip(*(rng.choices(pool, k=k) for pool in (*pools, EXTRA_FIELDS)), strict=True)
        for (first, fs), (last, ls), (company, domain, members), pattern, mail, title, city, extra in people:
            r = rnd()
            local = pattern.format(f=fs, i=fs[0], l=ls, n=int(r * 1e3) % 97 + 1, y=1960 + int(r * 1e4) % 45)
            email = NULL if r < 0.07 else f"{local}@{domain if domain and r < 0.65 else mail}"
            if r > 0.99:  # typed by hand, for email_normalized to tidy up
                email = email.capitalize()
            phone = NULL
            if email == NULL or rnd() < 0.75:
                area = loc.areas[int(rnd() * len(loc.areas))]
                size = loc.digits - len(area)
                sub = f"{int(rnd() * 10**size):0{size}d}"
                form = loc.phone_formats[int(rnd() * len(loc.phone_formats))]
                phone = form.format(area=area, sub=sub, g=_grouped(loc.calling_code, sub))
            # One draw for the sparse fields: a record that lacks one thing tends to lack others, and
            # first and last name are never both missing (leads_has_identity).
            r = rnd()
            name = (first if r < 0.98 else NULL, last if r > 0.03 else NULL, email, phone, company or NULL)
            title = title if company and r < 0.9 else NULL
            website = f"https://www.{domain}" if domain and r < 0.7 else NULL
            fields = f"{{{members}, {extra}}}" if members and extra else f"{{{members or extra}}}"
            yield "\t".join((*name, title, website, city if r < 0.92 else NULL, loc.country)), fields

    def lead_rows(self, agency: str, moments: list[int], converting: bytearray) -> str:
        n, rng, rnd, ts, end = len(moments), self.rng, self.rng.random, self.ts, self.now - 60
        sources = rng.choices(list(SOURCES), weights=list(SOURCES.values()), k=n)
        statuses = rng.choices(list(STATUSES), weights=list(STATUSES.values()), k=n)
        picks = [rng.choices(pool, k=n) for pool in (self.owners, self.tags, self.values, self.notes)]
        rows = zip(moments, converting, self.people(n), sources, statuses, *picks, _entropy(n), strict=True)
        out = []
        for created, convert, (person, fields), source, status, owner, tags, value, note, entropy in rows:
            lead_id = _uuid7(created, entropy)
            converted_at = last_at = 0
            if convert:
                status = "converted"
                converted_at = self.between(created + 60, end, 0.05, 0.45)
                self.convert(lead_id, owner, converted_at)
            chance, most, open_chance, base = STATUS_PLAN[status]
            if rnd() < chance:
                last_at = self.between(created, converted_at or end, 0.3)
                self.plan(lead_id, "NULL", owner, (created, last_at), most, open_chance)
            r = rnd()
            score = str(min(100, max(0, base + int(r * 400) % 30 - 10))) if r < 0.85 else NULL
            created_ts = ts(created)
            updated_ts = ts(max(last_at, converted_at)) if last_at or converted_at else created_ts
            stamps = (ts(last_at) if last_at else NULL, ts(converted_at) if converted_at else NULL)
            row = (lead_id, agency, person, status, owner, tags, fields, note, source, score, value)
            out.append("\t".join((*row, *stamps, created_ts, updated_ts)))
        return "\n".join(out) + "\n"

    def convert(self, lead_id: str, owner: str, converted_at: int) -> None:
        rnd, client_id = self.rng.random, _uuid7(converted_at, os.urandom(10).hex())
        last_at = self.between(converted_at, self.now - 60) if rnd() < 0.5 else 0
        if last_at:
            self.plan("NULL", client_id, owner, (converted_at, last_at), 2, 0.0)
        status = self.rng.choices(list(CLIENT_STATUSES), weights=list(CLIENT_STATUSES.values()))[0]
        value = f"{round(self.rng.lognormvariate(9, 1.2), -1):.2f}"
        self.conversions.append((client_id, lead_id, status, value, str(last_at) if last_at else "NULL"))

    def client_rows(self, agency: str, moments: list[int]) -> str:
        n, rng, rnd, ts = len(moments), self.rng, self.rng.random, self.ts
        statuses = rng.choices(list(CLIENT_STATUSES), weights=list(CLIENT_STATUSES.values()), k=n)
        picks = [rng.choices(pool, k=n) for pool in (self.owners, self.tags, self.notes)]
        rows = zip(moments, self.people(n), statuses, *picks, _entropy(n), strict=True)
        out = []
        for created, (person, fields), status, owner, tags, note, entropy in rows:
            client_id = _uuid7(created, entropy)
            last_at = self.between(created, self.now - 60) if rnd() < 0.5 else 0
            if last_at:
                self.plan("NULL", client_id, owner, (created, last_at), 2, 0.0)
            value = f"{round(rng.lognormvariate(9, 1.2), -1):.2f}"
            stamps = (ts(last_at) if last_at else NULL, ts(created), ts(max(created, last_at)))
            out.append(
                "\t".join((client_id, agency, person, status, owner, tags, fields, note, value, *stamps))
            )
        return "\n".join(out) + "\n"

    def plan(
        self, lead: str, client: str, owner: str, span: tuple[int, int], most: int, chance: float
    ) -> None:
        """1 to `most` activities in `span`, the last at its end, and with `chance` an open follow-up."""
        count, follow_up = 1 + int(self.rng.random() * most), self.rng.random() < chance
        owner = "NULL" if owner == NULL else owner
        self.activities.append((lead, client, owner, *map(str, span), str(count), "ft"[follow_up]))

    def activity_params(self, agency: str, seed: int) -> dict[str, object]:
        kinds, subjects, bodies = zip(*ACTIVITIES, strict=True)
        texts = {"kinds": list(kinds), "subjects": list(subjects), "bodies": [b or None for b in bodies]}
        plan = _arrays("lead_ids client_ids owner_ids first_at last_at counts open", self.activities)
        return plan | texts | {"agency_id": agency, "seed": seed, "now": self.now, "tasks": TASKS}


def _arrays(names: str, rows: list[tuple[str, ...]]) -> dict[str, str]:
    """The columns of `rows` as array literals: for psycopg, far cheaper to send than Python lists.

    Only for values an array literal need not quote: no commas, quotes, braces, backslashes or spaces.
    """
    columns = list(zip(*rows, strict=True)) or [() for _ in names.split()]
    return {name: "{" + ",".join(column) + "}" for name, column in zip(names.split(), columns, strict=True)}


def _entropy(n: int) -> list[str]:
    """n strings of 20 random hex digits, for ids."""
    digits = os.urandom(10 * n).hex()
    return [digits[i : i + 20] for i in range(0, 20 * n, 20)]


def _uuid7(at: int, entropy: str) -> str:
    """A UUIDv7 for unix time `at` (plus sub-second noise) from 20 hex digits of entropy."""
    t = f"{at * 1000 + int(entropy[19], 16) * 61:012x}"
    return f"{t[:8]}-{t[8:]}-7{entropy[:3]}-{_VARIANT[entropy[3]]}{entropy[4:7]}-{entropy[7:19]}"


def _grouped(calling_code: str, sub: str) -> str:
    """A subscriber number as written at home: '555-0123', '12 34 56 78', '1234 5678'."""
    if calling_code == "1":
        return f"{sub[:3]}-{sub[3:]}"
    if calling_code == "33":
        return " ".join(sub[i : i + 2] for i in range(0, len(sub), 2))
    return f"{sub[:-4]} {sub[-4:]}" if len(sub) > 6 else sub


def _build_locale(row: list[str], seed: int) -> _Locale:
    code, _weight, country, tld, cc, trunk, digits, areas, mail, cities = row
    fake = Faker(code)
    fake.seed_instance(seed)

    def unique(make: Callable[[], str], n: int) -> list[str]:
        return list(dict.fromkeys(make().translate(_COPY_ESCAPES) for _ in range(n)))  # sets vary in order

    companies = []
    for name in unique(fake.company, 600):
        if words := [w for w in _slug(name, "-").split("-") if w not in LEGAL_FORMS]:
            size = int(fake.random.lognormvariate(3.5, 1.5)) + 1
            members = json.dumps({"industry": fake.random_element(INDUSTRIES), "employees": size})[1:-1]
            companies.append((name, f"{''.join(words[:2])}.{tld}", members.translate(_COPY_ESCAPES)))
    national = ["({area}) {g}", "{area}-{g}"] if cc == "1" else [trunk + "{area} {g}"] * 2
    city_list, mail_list = cities.split(", "), mail.split()
    return _Locale(
        country=country,
        calling_code=cc,
        digits=int(digits),
        areas=areas.split(),
        phone_formats=[*national, national[0], f"+{cc}{{area}}{{sub}}", f"+{cc} {{area}} {{g}}"],
        first=[(n, _slug(n) or "info") for n in unique(fake.first_name, 1200)],
        last=[(n, _slug(n) or "contact") for n in unique(fake.last_name, 1200)],
        companies=companies + [("", "", "")] * (len(companies) // 4),
        titles=[*TITLES, *TITLES, *unique(fake.job, 30)],
        cities=[c for i, c in enumerate(city_list) for _ in range(len(city_list) - i)],
        free_mail=[m for i, m in enumerate(mail_list) for _ in range(len(mail_list) - i)] + mail_list[:1] * 4,
    )


def _slug(name: str, separator: str = "") -> str:
    """ASCII and lower case, for email local parts and domains: 'Jürgen Groß' -> 'juergengross'."""
    name = name.lower().replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9-]+", separator, ascii_name).strip("-")
