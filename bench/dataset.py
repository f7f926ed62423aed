"""The benchmark data set of BENCH.md, generated straight into the database.

Every row is computed by SQL from its number and the seed (a small non-linear hash),
so the same scale and seed give the same rows on SQLite and on PostgreSQL, and a
million rows cost one INSERT ... SELECT instead of a million Python objects. Only
the small tables (repositories, mappings, message templates) are written from
Python.

The data set replaces everything in the database it is pointed at; `prepare()`
refuses to do that to a database holding anything but an earlier bench data set.
"""

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction

from metrics.models import HourlyRollup, SyncEvent
from synchronizations.demo import FIELD_MAP
from synchronizations.derived import schema
from synchronizations.models import LogEntry, Mapping, Operation, Repository, Synchronization, error_pattern


@dataclass(frozen=True)
class Scale:
    name: str
    syncs: int
    logs: int
    events: int
    mappings: int
    days: int = 400
    heavy_logs: int = 10_000  # log entries of one sync (the detail-page scenario)


SCALES = {
    "small": Scale("small", syncs=10_000, logs=50_000, events=20_000, mappings=10, heavy_logs=2_000),
    "large": Scale("large", syncs=1_000_000, logs=10_000_000, events=10_000_000, mappings=50),
}
MARKER = "bench-dataset"  # the repository whose settings describe the data set
HEAVY_SYNC = 42  # the sync with heavy_logs log entries
# The status mix of BENCH.md, as thresholds on a hash 0..999.
STATUS_MIX = [("ok", 900), ("pending", 920), ("processing", 921), ("error", 981), ("ignored", 1000)]
P = 2147483647  # a prime: the hash works modulo it, in 64-bit integers on both databases

# About 40 kinds of error, each with varying values: {key} an artifact key, {n} a number.
ERROR_TEMPLATES = [
    "{key}: the value 'Blocker' of field 'priority' has no counterpart in the value map",
    "{key}: the value 'Blocked' of field 'status' has no counterpart in the value map",
    "{key}: the value 'Won't fix' of field 'status' has no counterpart in the value map",
    "{key}: the value 'Needs triage' of field 'priority' has no counterpart in the value map",
    "{key}: required field 'title' is empty",
    "{key}: required field 'assignee' is empty",
    "{key}: field 'summary' is longer than {n} characters",
    "The tracker answered HTTP 500 Internal Server Error after {n} ms",
    "The tracker answered HTTP 502 Bad Gateway after {n} ms",
    "The tracker answered HTTP 503 Service Unavailable (retry after {n} s)",
    "Connection timed out after {n} s",
    "Connection refused by the tracker on port {n}",
    "Read timed out after {n} s while fetching {key}",
    "Authentication failed: the API token expired {n} days ago",
    "Permission denied: the user cannot edit {key}",
    "{key} was deleted on the other side",
    "{key} is locked by a workflow transition ({n} pending)",
    "Version conflict on {key}: expected version {n}, found a newer one",
    "Attachment of {n} KB on {key} exceeds the size limit",
    "Comment {n} on {key} could not be copied: formatting not supported",
    "Rate limit exceeded: {n} requests in the last minute",
    "The project of {key} is archived",
    "The custom field 'cf_{n}' does not exist on the target",
    "Unknown user 'user{n}' in field 'assignee' of {key}",
    "Invalid date '2026-13-{n}' in field 'due' of {key}",
    "Label 'release-{n}' is not allowed on the target",
    "Component 'module-{n}' is not defined on the target",
    "The target rejected {key}: description contains {n} invalid characters",
    "The link from {key} to its parent could not be created",
    "The parent of {key} is not synchronized yet",
    "Duplicate of {key} found on the target; linking refused",
    "Workflow forbids moving {key} to 'Closed' from 'New'",
    "Estimate of {n} hours on {key} exceeds the allowed maximum",
    "TLS handshake with the tracker failed (certificate expired {n} days ago)",
    "DNS lookup of the tracker failed after {n} attempts",
    "The tracker is in maintenance mode for {n} minutes",
    "Sprint {n} of {key} is closed on the target",
    "Webhook signature of change {n} did not match",
    "Response of {n} bytes could not be parsed as JSON",
    "Watchers of {key} could not be copied: {n} unknown users",
]
LOG_TEMPLATES = [
    ("info", "Updated {key} from the other side: status, priority."),
    ("info", "No changes to carry over."),
    ("info", "Created {key} from its counterpart."),
    ("info", "{key} already matches its counterpart; nothing written."),
    ("warning", "Attempt {n} of 5 failed: Connection timed out. Next attempt in {n} s."),
    ("warning", "Both sides of {key} changed since the last sync; the most recent change won."),
    ("error", "Processing failed: {key}: required field 'title' is empty"),
    ("info", "Retry requested by operator."),
    ("debug", "Read {key} (version {n})."),
    ("info", "Error cleared by operator."),
]
TITLE_WORDS = (
    ["Fix", "Improve", "Add", "Remove", "Update", "Investigate", "Refactor", "Document"],
    ["login", "export", "search", "billing", "upload", "report", "sync", "dashboard", "API", "cache"],
    ["crash", "timeout", "layout", "validation", "performance", "permissions", "encoding", "pagination"],
    ["on Android", "in Firefox", "for admins", "after upgrade", "in the EU region", "under load", "", "on Safari"],
)


class NotABenchDatabase(Exception):
    pass


def _case(expr: str, words: list[str]) -> str:
    quoted = [word.replace("'", "''") for word in words]
    whens = " ".join(f"WHEN {i} THEN '{word}'" for i, word in enumerate(quoted))
    return f"(CASE ({expr}) % {len(words)} {whens} END)"


def _hash(salt: int, seed: int, n: str = "n") -> str:
    """A hash of row number ``n`` in 0..P-1: affine, squared, affine (no overflow in 64 bits)."""
    x = f"(({n} * 48271 + {salt * 7919 + seed * 104729}) % {P})"
    return f"((({x} * {x}) + {salt}) % {P})"


class Generator:
    def __init__(self, scale: Scale, seed: int = 1):
        self.scale, self.seed = scale, seed
        self.vendor = connection.vendor
        self.now = int(datetime.now(UTC).replace(minute=0, second=0, microsecond=0).timestamp())

    # -- SQL building blocks of the two databases --------------------------------
    def rows(self, count: int) -> str:
        """A row source with column n = 1..count."""
        if self.vendor == "postgresql":
            return f"generate_series(1::bigint, {count}::bigint) AS seq(n)"
        return (
            f"(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {count}) SELECT n FROM seq)"
        )

    def moment(self, seconds_ago: str) -> str:
        if self.vendor == "postgresql":
            return f"to_timestamp({self.now} - ({seconds_ago}))"
        return f"datetime({self.now} - ({seconds_ago}), 'unixepoch')"

    def mapping_of(self, sync: str) -> str:
        """The mapping of sync number ``sync`` (a pure function, so logs and events agree without a join)."""
        return f"(1 + {_hash(1, self.seed, sync)} % {self.scale.mappings})"

    def key(self, prefix: str, sync: str) -> str:
        return f"'{prefix}' || CAST({self.mapping_of(sync)} AS TEXT) || '-' || CAST({sync} AS TEXT)"

    # -- steps -------------------------------------------------------------------
    def run(self) -> dict:
        started = time.monotonic()
        steps = {}
        if self.vendor == "sqlite":
            with connection.cursor() as cursor:
                # A loader's settings: no journal, no fsync, 1 GB of cache, and the
                # index builds sorting in memory on two threads.
                cursor.execute("PRAGMA journal_mode = OFF")
                cursor.execute("PRAGMA synchronous = OFF")
                cursor.execute("PRAGMA cache_size = -1000000")
                cursor.execute("PRAGMA temp_store = MEMORY")
                cursor.execute("PRAGMA threads = 2")
        for step in (
            self.wipe,
            self.small_tables,
            self.drop_indexes,
            self.syncs,
            self.logs,
            self.events,
            self.rollup,
            self.create_indexes,
            self.finish,
            self.vacuum,
        ):
            began = time.monotonic()
            if step == self.vacuum:
                step()
            else:
                # Bulk loading: no foreign-key checks per row (SQLite: the pragma; PostgreSQL:
                # replica mode, which needs a superuser, else the checks run and it is slower).
                with connection.constraint_checks_disabled(), transaction.atomic():
                    self.bulk_mode()
                    step()
            steps[step.__name__] = round(time.monotonic() - began, 1)
        meta = {
            "scale": self.scale.name,
            "seed": self.seed,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "generated_seconds": round(time.monotonic() - started, 1),
            "steps": steps,
            "counts": asdict(self.scale),
        }
        Repository.objects.filter(name=MARKER).update(settings=meta)
        with connection.cursor() as cursor:
            if self.vendor == "sqlite":
                cursor.execute("PRAGMA journal_mode = WAL")
        return meta

    def bulk_mode(self) -> None:
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                if cursor.fetchone()[0]:
                    cursor.execute("SET LOCAL session_replication_role = replica")

    BIG = (Synchronization, LogEntry, SyncEvent)

    def drop_indexes(self) -> None:
        """Loading first and indexing afterwards sorts once per index, instead of
        inserting 10 million rows at random places of each; the triggers of
        derived/schema.py go too (schema.install() puts them back and recounts)."""
        self.indexes = []
        tables = [model._meta.db_table for model in self.BIG]
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = ANY(%s) AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                    [tables],
                )
            else:
                placeholders = ", ".join(["%s"] * len(tables))
                cursor.execute(
                    f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    f"AND tbl_name IN ({placeholders})",
                    tables,
                )
            self.indexes = cursor.fetchall()
            for name, _ in self.indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        schema.drop(connection, keep_search_table=True)

    def create_indexes(self) -> None:
        with connection.cursor() as cursor:
            for _, sql in self.indexes:
                cursor.execute(sql)

    def wipe(self) -> None:
        tables = [
            model._meta.db_table
            for model in (LogEntry, SyncEvent, HourlyRollup, Operation, Synchronization, Mapping, Repository)
        ]
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            else:
                for table in tables:
                    cursor.execute(f"DELETE FROM {table}")
                cursor.execute("DELETE FROM sqlite_sequence")

    def small_tables(self) -> None:
        Repository.objects.create(name=MARKER, enabled=False, settings={"scale": self.scale.name})
        repositories = Repository.objects.bulk_create(
            Repository(name=f"bench-{side}-{m}", base_url=f"https://{side}.example.com", enabled=False)
            for m in range(1, self.scale.mappings + 1)
            for side in ("left", "right")
        )
        Mapping.objects.bulk_create(
            Mapping(
                id=m,
                name=f"Bench mapping {m:02d}",
                left=repositories[2 * m - 2],
                right=repositories[2 * m - 1],
                left_scope=f"P{m}",
                right_scope=f"Q{m}",
                field_map=FIELD_MAP,
                enabled=False,  # nothing to detect: the artifacts are not generated
            )
            for m in range(1, self.scale.mappings + 1)
        )
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_template (idx INTEGER, message TEXT, pattern TEXT)")
            cursor.executemany(
                "INSERT INTO bench_template VALUES (%s, %s, %s)",
                [
                    (i, template, error_pattern(template.format(key="ABC-12", n=7)))
                    for i, template in enumerate(ERROR_TEMPLATES)
                ],
            )

    def syncs(self) -> None:
        s = self.scale
        h = [_hash(salt, self.seed) for salt in range(10)]
        hashes = ", ".join([f"{h[0]} % 1000 AS h0"] + [f"{h[i]} AS h{i}" for i in range(1, 10)])
        status = "CASE " + " ".join(f"WHEN h0 < {limit} THEN '{name}'" for name, limit in STATUS_MIX) + " END"
        title = "trim(" + " || ' ' || ".join(_case(f"h{i + 2}", words) for i, words in enumerate(TITLE_WORDS)) + ")"
        age = f"(h4 % {s.days * 86400})"
        never = "(status = 'pending' AND h5 % 2 = 0)"  # new on the left, not processed yet
        message = "replace(replace(t.message, '{key}', left_key), '{n}', CAST(h6 % 900 + 10 AS TEXT))"
        processed = self.moment(age)
        sql = f"""
            INSERT INTO {Synchronization._meta.db_table} (
                id, mapping_id, left_key, left_url, right_key, right_url, title, status, last_processed_at,
                error_message, error_pattern, error_detail, error_at, retry_count, attempts, next_retry_at,
                ignore_changes, claimed_by, processing_started_at, recheck, left_fingerprint, right_fingerprint,
                synced, error_context, lost_count, left_version, right_version, created_at, updated_at)
            SELECT n, mapping_id, left_key, 'https://left.example.com/browse/' || left_key,
                CASE WHEN {never} THEN '' ELSE right_key END,
                CASE WHEN {never} THEN '' ELSE 'https://right.example.com/browse/' || right_key END,
                title, status,
                CASE WHEN {never} THEN NULL ELSE {processed} END,
                CASE WHEN status = 'error' THEN {message} ELSE '' END,
                CASE WHEN status = 'error' THEN t.pattern ELSE '' END,
                '',
                CASE WHEN status = 'error' THEN {processed} END,
                h7 % 4, CASE WHEN status = 'error' THEN 1 + h7 % 5 ELSE 0 END, NULL,
                status = 'ignored',
                CASE WHEN status = 'processing' THEN 'bench-worker' ELSE '' END,
                CASE WHEN status = 'processing' THEN {self.moment("60")} END,
                FALSE, '', '', '{{}}', '{{}}', 0, '', '',
                {self.moment(f"{age} + h8 % 2592000")}, {self.moment(f"{age} / 2")}
            FROM (
                SELECT r.*, {status} AS status,
                    {self.key("P", "n")} AS left_key, {self.key("Q", "n")} AS right_key,
                    {self.mapping_of("n")} AS mapping_id, {title} AS title
                FROM (SELECT n, {hashes} FROM {self.rows(s.syncs)}) r
            ) x
            JOIN bench_template t ON t.idx = x.h9 % {len(ERROR_TEMPLATES)}
        """
        with connection.cursor() as cursor:
            cursor.execute(sql)

    def logs(self) -> None:
        """Log entries in time order (id order is time order), spread over the syncs;
        HEAVY_SYNC gets heavy_logs of them."""
        s = self.scale
        spacing = s.days * 86400 / s.logs
        sync = f"CASE WHEN n % {s.logs // s.heavy_logs} = 0 THEN {HEAVY_SYNC} ELSE 1 + h1 % {s.syncs} END"
        level = _case("h2", [level for level, _ in LOG_TEMPLATES])
        text = _case("h2", [message for _, message in LOG_TEMPLATES])
        key = self.key("P", "sync_id")
        sql = f"""
            INSERT INTO {LogEntry._meta.db_table} (timestamp, level, message, detail, actor, sync_id, mapping_id)
            SELECT {self.moment(f"CAST(({s.logs} - n) * {spacing} AS INTEGER)")}, level,
                replace(replace(message, '{{key}}', {key}), '{{n}}', CAST(h3 % 30 + 1 AS TEXT)),
                '', CASE WHEN message LIKE 'Retry%' OR message LIKE 'Error cleared%' THEN 'operator' ELSE '' END,
                sync_id, {self.mapping_of("sync_id")}
            FROM (
                SELECT n, h2, h3, {sync} AS sync_id, {level} AS level, {text} AS message
                FROM (SELECT n, {_hash(11, self.seed)} AS h1, {_hash(12, self.seed)} AS h2,
                             {_hash(13, self.seed)} AS h3 FROM {self.rows(s.logs)}) r
            ) x
        """
        with connection.cursor() as cursor:
            cursor.execute(sql)

    def events(self) -> None:
        """Sync events over ``days`` days, busier on weekdays' working hours (a hash
        decides, per event, whether it is moved into 8:00-18:00)."""
        s = self.scale
        spacing = s.days * 86400 / s.events
        when = f"CAST(({s.events} - n) * {spacing} AS INTEGER)"
        sql = f"""
            INSERT INTO {SyncEvent._meta.db_table} (occurred_at, kind, mapping_id, sync_id)
            SELECT {self.moment(when)}, CASE WHEN h2 % 10 < 3 THEN 'created' ELSE 'updated' END,
                {self.mapping_of("sync_id")}, sync_id
            FROM (SELECT n, {_hash(21, self.seed)} AS h2, 1 + {_hash(22, self.seed)} % {s.syncs} AS sync_id
                  FROM {self.rows(s.events)}) r
        """
        with connection.cursor() as cursor:
            cursor.execute(sql)

    def rollup(self) -> None:
        if self.vendor == "postgresql":
            hour = "date_trunc('hour', occurred_at)"
        else:
            hour = "substr(occurred_at, 1, 13) || ':00:00'"
        sql = f"""
            INSERT INTO {HourlyRollup._meta.db_table} (hour, mapping_id, created, updated)
            SELECT {hour}, mapping_id, SUM(CASE WHEN kind = 'created' THEN 1 ELSE 0 END),
                SUM(CASE WHEN kind = 'updated' THEN 1 ELSE 0 END)
            FROM {SyncEvent._meta.db_table} GROUP BY 1, 2
        """
        with connection.cursor() as cursor:
            cursor.execute(sql)

    def vacuum(self) -> None:
        vacuum()

    def finish(self) -> None:
        schema.install(connection, force_rebuild=True)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_template")
            if self.vendor == "postgresql":
                models = [Repository, Mapping, Synchronization, LogEntry, SyncEvent, HourlyRollup, Operation]
                for statement in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)
            else:  # statistics from a sample of each index, as `PRAGMA optimize` takes them
                cursor.execute("PRAGMA analysis_limit = 2000")
                cursor.execute("ANALYZE")


def vacuum() -> None:
    """PostgreSQL: statistics, and the visibility map that lets index-only scans (a
    page's ids, the Metrics sums) skip the table, as autovacuum sets them a while
    after a load or a bulk change. Outside a transaction, as VACUUM must be."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def describe() -> dict | None:
    """The data set in the database (its scale, seed, generation time), or None."""
    marker = Repository.objects.filter(name=MARKER).first()
    return marker.settings if marker else None


def prepare(scale: str, seed: int = 1, *, regenerate: bool = False) -> dict:
    """The data set of ``scale``: the one in the database if it matches, else a new one."""
    sqlite = connection.vendor == "sqlite"
    if not (sqlite and regenerate):
        call_command("migrate", verbosity=0)
        current = describe()
        if current is None and (Synchronization.objects.exists() or Mapping.objects.exists()):
            raise NotABenchDatabase(
                "This database holds data that the benchmark did not generate; it would be replaced. "
                "Point DATABASE_URL at an empty database (or one the benchmark made)."
            )
        if not regenerate and current and current.get("scale") == scale and current.get("seed") == seed:
            return {**current, "reused": True}
    if sqlite:  # a new file is quicker than deleting 20 million rows
        path = Path(connection.settings_dict["NAME"])
        connection.close()
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        call_command("migrate", verbosity=0)
    return Generator(SCALES[scale], seed).run()
