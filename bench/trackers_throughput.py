"""How many syncs per second one worker process carries to a live Roundup and a live
Redmine, beside what a bare HTTP client reaches doing the same calls on the same
server. Not a test: it prints figures (JSON on the last line).

    .venv/bin/python bench/trackers_throughput.py [--syncs 100] [--only roundup|redmine]

For each tracker (started by the `trackers` package on free ports, in a temporary
folder, with a fresh SQLite database for syncweb):

- engine: N new sandbox artifacts, one change detection, then process_sync() called
  N times in this process: each sync reads its artifact and creates the issue in the
  tracker (the connector's calls: the create and the read back, plus what it
  resolves by name once);
- bare client: an httpx client doing, for N issues, the same create and read back
  on the same server, with nothing else.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "status", "right": "status", "direction": "left_to_right"},
    {"left": "priority", "right": "priority", "direction": "left_to_right"},
]
VALUES = {"roundup": {"status": "unread", "priority": "bug"}, "redmine": {"status": "New", "priority": "High"}}


def _django(workdir: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="syncweb.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        SYNCWEB_VAR_DIR=str(workdir),
        SECRET_KEY="bench-secret-key-" + "x" * 40,
        LOG_LEVEL="WARNING",
    )
    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def engine_rate(kind: str, server, syncs: int) -> float:
    """Syncs per second, the engine in this process, sandbox -> ``kind``."""
    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    from synchronizations.connectors import connector_for
    from synchronizations.engine import detect, process
    from synchronizations.models import (
        Mapping,
        Repository,
        SandboxArtifact,
        SandboxKeyNumber,
        SandboxSequence,
        Synchronization,
    )

    left = Repository.objects.create(name=f"{kind} source", kind="sandbox", settings={"key_prefix": "S"})
    right = Repository(name=kind, kind=kind, base_url=server.base_url)
    if kind == "roundup":
        right.username = server.user_login
        right.set_secret(server.user_password)
        scope = ""
    else:
        right.set_secret(server.api_key)
        scope = server.project
    right.save()
    mapping = Mapping.objects.create(
        name=f"to {kind}", left=left, right=right, right_scope=scope, field_map=FIELD_MAP, enabled=True
    )
    fields = {"title": "Benchmark issue", **VALUES[kind]}
    SandboxArtifact.objects.bulk_create(
        SandboxArtifact(repository=left, key=f"S-{n}", fields=fields, change_seq=n) for n in range(1, syncs + 1)
    )
    SandboxSequence.objects.create(repository=left, last=syncs)
    SandboxKeyNumber.raise_to(left.pk, "S", syncs)  # no key of them is given again
    connector_for(right).ping()  # the connection is open before timing, as a bare client's is
    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    from synchronizations import jobs

    queue, jobs.queue_processing = jobs.queue_processing, lambda ids: None
    while detect.detect_changes(mapping.pk).created:
        pass
    jobs.queue_processing = queue
    ids = list(Synchronization.objects.filter(mapping=mapping).values_list("pk", flat=True))
    started = time.perf_counter()
    for pk in ids:
        process.process_sync(pk, f"bench-{pk}")
    elapsed = time.perf_counter() - started
    ok = Synchronization.objects.filter(mapping=mapping, status="ok").count()
    if ok != syncs:
        errors = set(Synchronization.objects.filter(mapping=mapping).values_list("error_message", flat=True))
        raise SystemExit(f"{kind}: {ok} of {syncs} syncs OK: {errors}")
    return syncs / elapsed


def bare_rate(kind: str, server, count: int) -> float:
    """Issues per second: an httpx client creating and reading back ``count`` issues."""
    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    import httpx

    if kind == "roundup":
        client = httpx.Client(
            base_url=server.rest_url, auth=(server.user_login, server.user_password), headers=server.rest_headers
        )
        statuses = {
            s["name"]: s["id"]
            for s in client.get("data/status", params={"@fields": "name"}).json()["data"]["collection"]
        }
        priorities = {
            p["name"]: p["id"]
            for p in client.get("data/priority", params={"@fields": "name"}).json()["data"]["collection"]
        }

        def one(n: int) -> None:
            body = {"title": f"Bare {n}", "status": statuses["unread"], "priority": priorities["bug"]}
            created = client.post("data/issue", json=body)
            created.raise_for_status()
            client.get(f"data/issue/{created.json()['data']['id']}").raise_for_status()

    else:
        client = httpx.Client(base_url=server.base_url, headers={"X-Redmine-API-Key": server.api_key})
        priority = next(
            p["id"]
            for p in client.get("enumerations/issue_priorities.json").json()["issue_priorities"]
            if p["name"] == "High"
        )

        def one(n: int) -> None:
            body = {"issue": {"project_id": server.project_id, "subject": f"Bare {n}", "priority_id": priority}}
            created = client.post("issues.json", json=body)
            created.raise_for_status()
            client.get(f"issues/{created.json()['issue']['id']}.json").raise_for_status()

    one(0)  # the connection is open before timing
    started = time.perf_counter()
    for n in range(1, count + 1):
        one(n)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--syncs", type=int, default=100)
    parser.add_argument("--only", choices=["roundup", "redmine"])
    args = parser.parse_args()
    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    from trackers import free_port, redmine
    from trackers.redmine import RedmineServer
    from trackers.roundup import RoundupServer

    workdir = Path(tempfile.mkdtemp(prefix="syncweb-bench-trackers-"))
    _django(workdir)
    results = {}
    kinds = [args.only] if args.only else ["roundup", "redmine"]
    for kind in kinds:
        if kind == "redmine" and not redmine.is_available()[0]:
            results[kind] = {"skipped": redmine.is_available()[1]}
            continue
        server_class = RoundupServer if kind == "roundup" else RedmineServer
        with server_class(workdir / kind, free_port()) as server:
            engine = engine_rate(kind, server, args.syncs)  # first: its scope holds only its own issues
            bare = bare_rate(kind, server, args.syncs)
        results[kind] = {
            "engine_syncs_per_second": round(engine, 1),
            "bare_client_per_second": round(bare, 1),
            "ratio": round(engine / bare, 2),
        }
        print(f"{kind}: engine {engine:.1f} syncs/s, bare client {bare:.1f}/s, ratio {engine / bare:.2f}", flush=True)
    print(json.dumps({"syncs": args.syncs, "trackers": results}))


if __name__ == "__main__":
    main()
