"""Hot lookups at scale on PostgreSQL: what each costs with the indexes, and without them.

    python bench/hot_queries.py --fans 1000000 [--messages-per-fan 5] [--without-indexes]

Fills a fresh database (migrated to head) with generated fans, ledger rows and suppressions,
ANALYZEs it, and prints for each hot lookup the planner's own choice (no settings changed) and
the time PostgreSQL reports for executing it. `--without-indexes` drops the indexes of
migration 0009 first, to show what they buy. tests/db/test_hot_query_plans.py is the guard;
this only measures.
"""

import argparse
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relay.db.migrate import upgrade_to_head  # noqa: E402
from relay.db.urls import async_database_url  # noqa: E402

ADMIN_URL = os.environ.get(
    "RELAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
JOURNEYS = ("club-onboarding", "ticket-buyer", "spectator-previsit", "volunteer", "incident")

# An incident's ledger rows are written page by page as it runs, so they sit together.
FILL = """
INSERT INTO fan (id, external_id, email, phone, locale, time_zone, interests,
                 created_at, updated_at)
SELECT 'fan_' || n, 'ext-' || n, 'fan' || n || '@example.org', '+336' || lpad(n::text, 8, '0'),
       (ARRAY['fr','en','de','es','it','pt','nl','ja','zh'])[1 + n %% 9], 'Europe/Paris', '[]',
       now(), now()
FROM generate_series(1, %(fans)s) AS n;
INSERT INTO message (key, fan_id, journey, journey_version, step, message, channel, category,
                     status, deferral_count, decided_at, created_at, updated_at)
SELECT 'k' || n, 'fan_' || (1 + n %% %(fans)s), (%(journeys)s::text[])[1 + n %% 5],
       1, CASE WHEN n %% 5 = 4 THEN 'inc_' || (n::bigint * 50 / %(messages)s)
               ELSE 'step' || (n %% 7) END,
       'msg' || (n %% 7), 'email', 'marketing', 'sent', 0,
       now() - (n %% 60) * interval '1 day', now(), now()
FROM generate_series(1, %(messages)s) AS n;
INSERT INTO suppression (channel, address, reason, created_at)
SELECT 'email', 'fan' || n || '@example.org', 'hard bounce', now()
FROM generate_series(1, %(fans)s, 100) AS n;
"""

LOOKUPS: dict[str, tuple[str, dict[str, Any]]] = {
    "bounce: fans by email": ("SELECT id FROM fan WHERE email = %(a)s", {"a": "fan77@example.org"}),
    "STOP: fans by phone": ("SELECT id FROM fan WHERE phone = %(a)s", {"a": "+33600000077"}),
    "send: suppressions by address": (
        "SELECT channel, address FROM suppression WHERE address IN (%(a)s, %(b)s)",
        {"a": "fan101@example.org", "b": "+33600000101"},
    ),
    "GET /v1/stats?journey=volunteer": (
        "SELECT journey, step, message, count(*) FROM message WHERE journey = %(j)s "
        "GROUP BY journey, step, message",
        {"j": "volunteer"},
    ),
    "incident progress": (
        "SELECT status, reason, count(*) FROM message WHERE journey = 'incident' "
        "AND step = %(s)s GROUP BY status, reason",
        {"s": "inc_9"},
    ),
    "caps: a fan's marketing in 31 days": (
        "SELECT decided_at, channel FROM message WHERE fan_id = %(f)s AND category = 'marketing'"
        " AND decided_at > now() - interval '31 days'",
        {"f": "fan_77"},
    ),
}
INDEXES_0009 = (
    "ix_fan_email",
    "ix_fan_phone",
    "ix_suppression_address",
    "ix_message_journey_step_message",
)


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fans", type=int, default=1_000_000)
    parser.add_argument("--messages-per-fan", type=int, default=5)
    parser.add_argument("--without-indexes", action="store_true")
    args = parser.parse_args()
    name = f"relay_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(ADMIN_URL).set(database=name).render_as_string(False)
            upgrade_to_head(async_database_url(url))
            with psycopg.connect(url, autocommit=True) as db:
                if args.without_indexes:
                    for index in INDEXES_0009:
                        db.execute(f"DROP INDEX {index}")
                fill = {"fans": args.fans, "messages": args.fans * args.messages_per_fan}
                for statement in FILL.split(";")[:-1]:
                    db.execute(statement, fill | {"journeys": list(JOURNEYS)})
                db.execute("ANALYZE")
                print(f"{args.fans:,} fans, {fill['messages']:,} ledger rows", flush=True)
                for label, (sql, parameters) in LOOKUPS.items():
                    row = db.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", parameters)
                    [[explained]] = row.fetchall()
                    nodes = _nodes(explained[0]["Plan"])
                    used = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
                    scans = [n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"]
                    how = ", ".join(used) or f"Seq Scan on {', '.join(scans)}"
                    print(f"{label:38} {explained[0]['Execution Time']:10.2f} ms  {how}")
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
