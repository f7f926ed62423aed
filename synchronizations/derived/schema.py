"""The schema side of the derived data: the tables, indexes, triggers and
functions the database keeps for the Syncs tab, so that a page never scans a
million syncs, and install() / rebuild() / drop() for them. (The query side: the
counts are read through models.SyncCount, the search through
synchronizations.search.)

- ``synchronizations_synccount``: how many syncs each mapping has in each status,
  kept exact by triggers on every INSERT, UPDATE and DELETE of a sync, whoever
  makes it (the engine, an operation, the admin, a bulk UPDATE, a script in SQL).
  The Syncs tab, the Dashboard and the Mappings pages read their counts from it.
- the text search: on SQLite an FTS5 table with the trigram tokenizer (substring
  matching, as LIKE '%text%' does, but from an index), kept by triggers; on
  PostgreSQL a table of each sync's searched text with a pg_trgm GIN index, kept
  by triggers too. (A GIN index on the sync table itself would be written on every
  status change, as PostgreSQL writes all of a row's indexes when an indexed
  column changes: a Retry of 100,000 syncs spent a third of its time there.)

Triggers are database objects Django's migrations do not know about, and SQLite
drops a table's triggers when a migration rebuilds the table. So ``install()``
runs after every ``migrate`` (post_migrate) as well as in the migration: it
creates what is missing and, if anything was missing, rebuilds the derived data.

This module imports nothing of the project (the app config and a migration import
it).
"""

from django.db import connection as default_connection

SYNC = "synchronizations_synchronization"
COUNT = "synchronizations_synccount"
FTS = "synchronizations_sync_search"
# The sync columns the search covers (the search table's columns on SQLite).
SEARCHED = ("title", "left_key", "right_key", "error_message")


# PostgreSQL: the searched text as one expression; the index and the query use it verbatim.
def _pg_search_text(row: str) -> str:
    return "upper(" + " || ' ' || ".join(f"{row}.{column}" for column in SEARCHED) + ")"


PG_SEARCH_INDEX = "sync_search_trgm"
PG_SEARCH_FUNCTIONS = ("sync_count_apply", "sync_search_apply", "sync_search_truncate")

_SQLITE_COUNT_TRIGGERS = {
    "sync_count_insert": f"""
        CREATE TRIGGER sync_count_insert AFTER INSERT ON {SYNC} BEGIN
            INSERT INTO {COUNT} (mapping_id, status, n) VALUES (NEW.mapping_id, NEW.status, 1)
            ON CONFLICT (mapping_id, status) DO UPDATE SET n = n + 1;
        END""",
    "sync_count_delete": f"""
        CREATE TRIGGER sync_count_delete AFTER DELETE ON {SYNC} BEGIN
            UPDATE {COUNT} SET n = n - 1 WHERE mapping_id = OLD.mapping_id AND status = OLD.status;
        END""",
    "sync_count_update": f"""
        CREATE TRIGGER sync_count_update AFTER UPDATE OF status, mapping_id ON {SYNC}
        WHEN OLD.status IS NOT NEW.status OR OLD.mapping_id IS NOT NEW.mapping_id BEGIN
            UPDATE {COUNT} SET n = n - 1 WHERE mapping_id = OLD.mapping_id AND status = OLD.status;
            INSERT INTO {COUNT} (mapping_id, status, n) VALUES (NEW.mapping_id, NEW.status, 1)
            ON CONFLICT (mapping_id, status) DO UPDATE SET n = n + 1;
        END""",
}
_columns = ", ".join(SEARCHED)
_new = ", ".join(f"NEW.{column}" for column in SEARCHED)
_old = ", ".join(f"OLD.{column}" for column in SEARCHED)
_changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in SEARCHED)
_SQLITE_SEARCH_TRIGGERS = {
    "sync_search_insert": f"""
        CREATE TRIGGER sync_search_insert AFTER INSERT ON {SYNC} BEGIN
            INSERT INTO {FTS} (rowid, {_columns}) VALUES (NEW.id, {_new});
        END""",
    "sync_search_delete": f"""
        CREATE TRIGGER sync_search_delete AFTER DELETE ON {SYNC} BEGIN
            INSERT INTO {FTS} ({FTS}, rowid, {_columns}) VALUES ('delete', OLD.id, {_old});
        END""",
    "sync_search_update": f"""
        CREATE TRIGGER sync_search_update AFTER UPDATE ON {SYNC} WHEN {_changed} BEGIN
            INSERT INTO {FTS} ({FTS}, rowid, {_columns}) VALUES ('delete', OLD.id, {_old});
            INSERT INTO {FTS} (rowid, {_columns}) VALUES (NEW.id, {_new});
        END""",
}
# PostgreSQL: statement-level triggers see all changed rows at once (transition
# tables), so an UPDATE of 1,000 syncs makes one small upsert, in a fixed row order
# (no deadlock between two workers).
_PG_COUNT_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION sync_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO {COUNT} (mapping_id, status, n)
            SELECT mapping_id, status, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (mapping_id, status) DO UPDATE SET n = {COUNT}.n + EXCLUDED.n;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO {COUNT} (mapping_id, status, n)
            SELECT mapping_id, status, -count(*) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (mapping_id, status) DO UPDATE SET n = {COUNT}.n + EXCLUDED.n;
        ELSE
            INSERT INTO {COUNT} (mapping_id, status, n)
            SELECT mapping_id, status, sum(delta) FROM (
                SELECT mapping_id, status, -1 AS delta FROM old_rows
                UNION ALL SELECT mapping_id, status, 1 FROM new_rows
            ) changes GROUP BY 1, 2 HAVING sum(delta) <> 0 ORDER BY 1, 2
            ON CONFLICT (mapping_id, status) DO UPDATE SET n = {COUNT}.n + EXCLUDED.n;
        END IF;
        RETURN NULL;
    END $$"""
_PG_COUNT_TRIGGERS = {
    f"sync_count_{event.lower()}": f"""
        CREATE TRIGGER sync_count_{event.lower()} AFTER {event} ON {SYNC}
        REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION sync_count_apply()"""
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    )
}


_PG_SEARCH_TABLE = f"CREATE TABLE {FTS} (sync_id bigint PRIMARY KEY, text text NOT NULL)"
_PG_SEARCH_INDEX = f"CREATE INDEX {PG_SEARCH_INDEX} ON {FTS} USING gin (text gin_trgm_ops)"
_PG_SEARCH_FUNCTIONS = [
    f"""
    CREATE OR REPLACE FUNCTION sync_search_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM {FTS} WHERE sync_id = OLD.id;
        ELSE
            INSERT INTO {FTS} (sync_id, text) VALUES (NEW.id, {_pg_search_text("NEW")})
            ON CONFLICT (sync_id) DO UPDATE SET text = EXCLUDED.text;
        END IF;
        RETURN NULL;
    END $$""",
    f"""
    CREATE OR REPLACE FUNCTION sync_search_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {FTS};
        RETURN NULL;
    END $$""",
]
_pg_changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in SEARCHED)
_PG_SEARCH_TRIGGERS = {
    "sync_search_insert": f"""
        CREATE TRIGGER sync_search_insert AFTER INSERT ON {SYNC}
        FOR EACH ROW EXECUTE FUNCTION sync_search_apply()""",
    "sync_search_update": f"""
        CREATE TRIGGER sync_search_update AFTER UPDATE OF {_columns} ON {SYNC}
        FOR EACH ROW WHEN ({_pg_changed}) EXECUTE FUNCTION sync_search_apply()""",
    "sync_search_delete": f"""
        CREATE TRIGGER sync_search_delete AFTER DELETE ON {SYNC}
        FOR EACH ROW EXECUTE FUNCTION sync_search_apply()""",
    # Django's flush (tests) truncates the sync table; the search table follows.
    "sync_search_truncate": f"""
        CREATE TRIGGER sync_search_truncate AFTER TRUNCATE ON {SYNC}
        FOR EACH STATEMENT EXECUTE FUNCTION sync_search_truncate()""",
}


def install(connection=default_connection, *, force_rebuild: bool = False) -> bool:
    """Creates the missing triggers, tables and indexes on ``connection`` (a Django
    database connection); rebuilds the derived data when something was missing (or
    ``force_rebuild``). Returns whether it rebuilt; does nothing (False) before the
    migration that makes the count table."""
    if COUNT not in connection.introspection.table_names():
        return False  # before the migration that makes the table
    with connection.cursor() as cursor:
        missing = _install_sqlite(cursor) if connection.vendor == "sqlite" else _install_postgresql(cursor)
        if missing or force_rebuild:
            rebuild(connection)
    return bool(missing) or force_rebuild


def _install_sqlite(cursor) -> list[str]:
    cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('trigger', 'table')")
    present = {row[0] for row in cursor.fetchall()}
    missing = []
    if FTS not in present:
        cursor.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5({_columns}, content='{SYNC}', content_rowid='id', "
            "tokenize='trigram')"
        )
        missing.append(FTS)
    for name, sql in {**_SQLITE_COUNT_TRIGGERS, **_SQLITE_SEARCH_TRIGGERS}.items():
        if name not in present:
            cursor.execute(sql)
            missing.append(name)
    return missing


def _install_postgresql(cursor) -> list[str]:
    cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass", [SYNC])
    present = {row[0] for row in cursor.fetchall()}
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [FTS])
    missing = []
    if not cursor.fetchone()[0]:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(_PG_SEARCH_TABLE)
        cursor.execute(_PG_SEARCH_INDEX)
        missing.append(FTS)
    for sql in (_PG_COUNT_FUNCTION, *_PG_SEARCH_FUNCTIONS):
        cursor.execute(sql)
    for name, sql in {**_PG_COUNT_TRIGGERS, **_PG_SEARCH_TRIGGERS}.items():
        if name not in present:
            cursor.execute(sql)
            missing.append(name)
    return missing


def rebuild(connection=default_connection) -> None:
    """Recounts every (mapping, status) and refills the search table (on
    PostgreSQL without its index, which is built once afterwards)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {COUNT}")
        cursor.execute(
            f"INSERT INTO {COUNT} (mapping_id, status, n) "
            f"SELECT mapping_id, status, count(*) FROM {SYNC} GROUP BY mapping_id, status"
        )
        if connection.vendor == "sqlite":
            cursor.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')")
        else:  # filled without its index, which is quicker to build once afterwards
            cursor.execute(f"DROP INDEX IF EXISTS {PG_SEARCH_INDEX}")
            cursor.execute(f"TRUNCATE {FTS}")
            cursor.execute(f"INSERT INTO {FTS} (sync_id, text) SELECT id, {_pg_search_text(SYNC)} FROM {SYNC}")
            cursor.execute(_PG_SEARCH_INDEX)


def drop(connection=default_connection, *, keep_search_table: bool = False) -> None:
    """Removes the triggers and the search table/index (the reverse of the migration;
    a bulk load drops the triggers only, and calls install() afterwards)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in {**_SQLITE_COUNT_TRIGGERS, **_SQLITE_SEARCH_TRIGGERS}:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            if not keep_search_table:
                cursor.execute(f"DROP TABLE IF EXISTS {FTS}")
        else:
            for name in {**_PG_COUNT_TRIGGERS, **_PG_SEARCH_TRIGGERS}:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {SYNC}")
            for name in PG_SEARCH_FUNCTIONS:
                cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
            if not keep_search_table:
                cursor.execute(f"DROP TABLE IF EXISTS {FTS}")
