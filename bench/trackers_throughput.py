"""How many syncs per second syncweb carries to a live Roundup and a live Redmine
with 1, 2 and 4 worker processes, beside what a bare HTTP client reaches doing the
same calls on the same server with 1, 2 and 4 threads (issue 15: the engine with one
worker at 0.8 times the bare client or better; the trackers as the only limit). Not a
test: it prints figures, JSON on the last line. `make bench SCALE=large` runs it.

    .venv/bin/python bench/trackers_throughput.py [--syncs 400] [--only roundup|redmine] [--workers 1,2,4]

For each tracker (started by the `trackers` package on free ports, in a temporary
folder) and each number of workers W, on a fresh database (SQLite, or a scratch
PostgreSQL database beside DATABASE_URL's) and a Redis of its own:

- engine: N new sandbox artifacts and one change detection (N pending syncs, not
  timed); then, timed from the first job sent to the last sync OK, the N syncs
  queued as change detection queues them (jobs of QUEUE_BATCH) to W `celery worker
  --pool=solo` processes. Each sync reads its artifact and creates the issue in the
  tracker: the connector's create and its read back, plus what it resolves by name
  once per process;
- bare client: W threads, each with its own httpx client, doing for N issues in all
  the same create and read back on the same server, with nothing else.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine_throughput import drop_scratch, scratch_postgresql  # noqa: E402
from bench.processes import free_port, start_redis, start_worker, stop  # noqa: E402

# The engine with one worker against the bare client with one thread (issue 15).
TARGET_RATIO = 0.8
WORKERS = (1, 2, 4)
# Issues created, untimed, before measuring.
WARM_UP = 30
SCRIPT = ROOT / "bench" / "_trackers_run.py"


def tracker_settings(kind: str, server) -> dict:
    """What bench/_trackers_run.py needs to make the tracker's Repository and scope."""
    if kind == "roundup":
        return {"kind": kind, "base_url": server.base_url, "username": server.user_login,
                "secret": server.user_password, "scope": ""}  # fmt: skip
    return {"kind": kind, "base_url": server.base_url, "username": "", "secret": server.api_key,
            "scope": server.project}  # fmt: skip


def engine_rate(kind: str, server, syncs: int, workers: int) -> float:
    """Syncs per second, sandbox -> ``kind``, carried by ``workers`` worker processes."""
    workdir = Path(tempfile.mkdtemp(prefix="syncweb-bench-trackers-"))
    port = free_port()
    url = os.environ.get("DATABASE_URL", "")
    scratch = scratch_postgresql(url) if url.startswith("postgres") else None
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "syncweb.settings",
        "DATABASE_URL": scratch[0] if scratch else f"sqlite:///{workdir / 'bench.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "SYNCWEB_VAR_DIR": str(workdir),
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "BENCH_TRACKER": json.dumps(tracker_settings(kind, server)),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    redis = start_redis(port, workdir)
    processes = []
    try:
        for _ in range(workers):
            processes.append(start_worker(cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        out = subprocess.run(
            [sys.executable, str(SCRIPT), str(syncs)], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if out.returncode:
            sys.exit(f"the {kind} run with {workers} workers failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])["per_second"]
    finally:
        for process in processes:
            stop(process)
        stop(redis)
        if scratch:
            drop_scratch(url, scratch[1])
        shutil.rmtree(workdir, ignore_errors=True)


def bare_rate(kind: str, server, count: int, threads: int) -> float:
    """Issues per second: ``threads`` threads with an httpx client each, creating and
    reading back ``count`` issues in all."""
    # Here, not at the top (not a cycle): the parent process needs httpx for this only.
    import httpx

    if kind == "roundup":

        def client() -> httpx.Client:
            return httpx.Client(
                base_url=server.rest_url, auth=(server.user_login, server.user_password), headers=server.rest_headers
            )

        names = client()

        def ids(what: str) -> dict[str, str]:
            listed = names.get(f"data/{what}", params={"@fields": "name"}).json()["data"]["collection"]
            return {item["name"]: item["id"] for item in listed}

        statuses, priorities = ids("status"), ids("priority")

        def one(http: httpx.Client, n: int) -> None:
            body = {"title": f"Bare {n}", "status": statuses["unread"], "priority": priorities["bug"]}
            created = http.post("data/issue", json=body)
            created.raise_for_status()
            http.get(f"data/issue/{created.json()['data']['id']}").raise_for_status()

    else:

        def client() -> httpx.Client:
            return httpx.Client(base_url=server.base_url, headers={"X-Redmine-API-Key": server.api_key})

        priority = next(
            p["id"]
            for p in client().get("enumerations/issue_priorities.json").json()["issue_priorities"]
            if p["name"] == "High"
        )

        def one(http: httpx.Client, n: int) -> None:
            body = {"issue": {"project_id": server.project_id, "subject": f"Bare {n}", "priority_id": priority}}
            created = http.post("issues.json", json=body)
            created.raise_for_status()
            http.get(f"issues/{created.json()['issue']['id']}.json").raise_for_status()

    clients = [client() for _ in range(threads)]
    for http in clients:
        one(http, 0)  # each connection is open before timing
    failures = []

    def share(index: int) -> None:
        try:
            for n in range(index, count, threads):
                one(clients[index], n + 1)
        except Exception as exc:  # said after the run: a failed bare run has no figure
            failures.append(exc)

    started = time.perf_counter()
    running = [threading.Thread(target=share, args=(index,)) for index in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"the bare client failed on {kind}: {failures[0]!r}")
    return count / elapsed


def measure(syncs: int = 400, only: str | None = None, workers: tuple[int, ...] = WORKERS) -> dict:
    """For bench/run.py: per tracker, the engine's and the bare client's rates for each
    number of workers, and the ratio at one worker; a tracker not installed here is
    {"skipped": why}."""
    # Here, not at the top (not a cycle): the trackers package is only for this phase.
    from trackers import free_port as tracker_port
    from trackers import redmine, roundup
    from trackers.redmine import RedmineServer
    from trackers.roundup import RoundupServer

    workdir = Path(tempfile.mkdtemp(prefix="syncweb-bench-trackers-"))
    results = {}
    try:
        for kind, module, server_class in (("roundup", roundup, RoundupServer), ("redmine", redmine, RedmineServer)):
            if only and kind != only:
                continue
            available, why = module.is_available()
            if not available:
                results[kind] = {"skipped": why}
                continue
            with server_class(workdir / kind, tracker_port()) as server:
                bare_rate(kind, server, WARM_UP, 1)  # a fresh tracker's first answers are slow (caches, JIT)
                engine = {w: round(engine_rate(kind, server, syncs, w), 1) for w in workers}
                bare = {w: round(bare_rate(kind, server, syncs, w), 1) for w in workers}
            ratio = round(engine[workers[0]] / bare[workers[0]], 3)  # not rounded up to the target
            results[kind] = {"engine_per_s": engine, "bare_per_s": bare, "ratio": ratio}
            print(f"  {kind}: engine {engine}, bare client {bare} (per workers); ratio at {workers[0]}: {ratio}",
                  flush=True)  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"syncs": syncs, "trackers": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--syncs", type=int, default=400)
    parser.add_argument("--only", choices=["roundup", "redmine"])
    parser.add_argument("--workers", default="1,2,4", help="comma-separated numbers of worker processes")
    args = parser.parse_args()
    workers = tuple(int(w) for w in args.workers.split(","))
    print(json.dumps(measure(args.syncs, args.only, workers)))


if __name__ == "__main__":
    main()
