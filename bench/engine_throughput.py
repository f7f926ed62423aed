"""How many syncs per second one worker process carries over with the sandbox
connector. Not a test: it prints figures (median of --runs runs).

    .venv/bin/python bench/engine_throughput.py [--syncs 2000] [--runs 3]

Each run uses a fresh SQLite database in a temporary folder and a Redis of its own:
N new artifacts on the left, one change detection (N pending syncs), then

- in-process: process_batch() on jobs of QUEUE_BATCH syncs in this process (the engine alone);
- one worker: N process_sync jobs through Redis to `celery worker --pool=solo`
  (one process), timed from the first message sent to the last sync OK.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import free_port, start_redis, start_worker, stop  # noqa: E402


def run_once(syncs: int, database_url: str = "") -> dict:
    """One run on a fresh database: a new SQLite file, or ``database_url`` (a new, empty one)."""
    workdir = Path(tempfile.mkdtemp(prefix="syncweb-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "syncweb.settings",
        "DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "SYNCWEB_VAR_DIR": str(workdir),
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    python = sys.executable
    script = ROOT / "bench" / "_engine_run.py"
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    redis = start_redis(port, workdir)
    worker = None
    try:
        worker = start_worker(cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run([python, str(script), str(syncs)], cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"the run failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        stop(worker)
        stop(redis)
        shutil.rmtree(workdir, ignore_errors=True)


def scratch_postgresql(url: str):
    """A new database beside the one of ``url`` (dropped by the caller), or None if
    the role may not create databases."""
    # Here, not at the top (not a cycle): only a PostgreSQL run needs psycopg.
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_engine"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None
    return urlunsplit(parts._replace(path=f"/{name}")), name


def drop_scratch(url: str, name: str) -> None:
    """Drops the scratch database ``name`` made by scratch_postgresql(url)."""
    # Here, not at the top (not a cycle): only a PostgreSQL run needs psycopg.
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def measure_worker(syncs: int, runs: int = 1) -> dict:
    """For bench/run.py: syncs/s of one worker process, on the database kind of the run."""
    url = os.environ.get("DATABASE_URL", "")
    postgresql = url.startswith("postgres")
    rates, where = [], "SQLite"
    for _ in range(runs):
        scratch = scratch_postgresql(url) if postgresql else None  # a new one each run
        try:
            rates.append(run_once(syncs, scratch[0] if scratch else "")["one_worker"])
        finally:
            if scratch:
                where = "PostgreSQL"
                drop_scratch(url, scratch[1])
    note = f"{syncs} new artifacts carried over by one celery worker --pool=solo, fresh {where} database, real Redis"
    return {"per_second": round(statistics.median(rates)), "note": note}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--syncs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncweb.settings")
    results = [run_once(args.syncs) for _ in range(args.runs)]
    print(f"{args.syncs} syncs, {args.runs} runs, SQLite, sandbox connector, {os.cpu_count()} cores")
    for name in ("in_process", "one_worker"):
        rates = [r[name] for r in results]
        runs = ", ".join(f"{x:.0f}" for x in rates)
        print(f"  {name:<11} median {statistics.median(rates):7.0f} syncs/s   (runs: {runs})")


if __name__ == "__main__":
    main()
