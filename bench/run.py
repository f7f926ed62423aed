"""`make bench`: the benchmarks of BENCH.md. Generates (or reuses) the data set,
times every scenario, prints a table and writes the results as JSON.

    .venv/bin/python bench/run.py [--scale small|large] [--runs 20] [--regenerate]

SQLite by default (var/bench-SCALE.sqlite3); PostgreSQL when DATABASE_URL is set (the
database is replaced by the data set, so it must be empty or made by this command).
Writes bench/results/latest.json and bench/results/SCALE-DATABASE.json.

Phases, each in a process of its own so that the peak memory of the page phase is
that of a web process: generate, pages, bulk (a real Redis and Celery worker),
engine (a fresh database, a real Redis and one worker process).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncweb.settings")


def setup(scale: str) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / f'bench-{scale}.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncweb.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The bench times the API, not its rate limit per user.
    os.environ.setdefault("SYNCWEB_API_RATE", "1000000/minute")
    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    import django

    django.setup()


def machine() -> str:
    """Cores, CPU, memory, Python: what the figures were measured on."""
    model, memory = platform.processor() or platform.machine(), ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name"))
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {round(kib / 2**20)} GiB"
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({model}){memory}, Python {platform.python_version()}"


def start_redis() -> subprocess.Popen:
    """A Redis of the run's own (the dashboard's broker probe, the bulk scenario)."""
    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    from bench.processes import free_port, start_redis

    port = free_port()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return start_redis(port)


def phase(name: str, args: argparse.Namespace, env: dict | None = None) -> dict:
    """Runs one phase in a child process; its last output line is its JSON result."""
    command = [sys.executable, __file__, "--phase", name, "--scale", args.scale, "--seed", str(args.seed)]
    command += ["--runs", str(args.runs)] + (["--regenerate"] if args.regenerate else [])
    child = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, text=True, check=False
    )
    lines = [line for line in child.stdout.splitlines() if line.strip()]
    if lines[:-1]:
        print("\n".join(lines[:-1]), flush=True)
    if child.returncode or not lines:
        sys.exit(f"bench: the {name} phase failed (exit {child.returncode}).")
    return json.loads(lines[-1])


def run_phase(args: argparse.Namespace) -> dict:
    setup(args.scale)
    if args.phase == "generate":
        # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
        from bench import dataset

        try:
            return dataset.prepare(args.scale, args.seed, regenerate=args.regenerate)
        except dataset.NotABenchDatabase as refusal:
            sys.exit(f"bench: {refusal}")
    if args.phase == "pages":
        # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
        from bench.scenarios import run_pages

        return run_pages(args.runs)
    if args.phase == "bulk":
        # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
        from bench.bulk import run_bulk

        return run_bulk(args.scale, runs=3 if args.scale == "large" else 1)
    raise SystemExit(f"unknown phase {args.phase}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["small", "large"], default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=20, help="timed fetches of each page")
    parser.add_argument("--regenerate", action="store_true", help="generate the data set even if it is there")
    parser.add_argument(
        "--skip", default="", help="comma-separated phases to leave out: bulk, engine, trackers (large only)"
    )
    parser.add_argument("--markdown", nargs="+", metavar="JSON", help="print the README table of these results")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.markdown:
        # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
        from bench import report

        print(report.markdown([json.loads(Path(name).read_text()) for name in args.markdown]))
        return
    if args.phase:
        print(json.dumps(run_phase(args), default=str))
        return

    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    from bench import report

    skip = set(filter(None, args.skip.split(",")))
    began = time.monotonic()
    redis = start_redis()
    database = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    print(f"bench: scale {args.scale}, {database}", flush=True)
    print("- data set", flush=True)
    meta = phase("generate", args)
    print(f"  {'reused' if meta.get('reused') else 'generated'} in {meta['generated_seconds']} s", flush=True)
    print("- pages", flush=True)
    pages = phase("pages", args)
    bulk = None if "bulk" in skip else (print("- bulk retry", flush=True), phase("bulk", args))[1]
    engine = None
    if "engine" not in skip:
        # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
        from bench.engine_throughput import measure_worker

        print("- engine", flush=True)
        engine = measure_worker(syncs=2000 if args.scale == "large" else 500, runs=3 if args.scale == "large" else 1)
    trackers = None
    if args.scale == "large" and "trackers" not in skip:
        # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
        from bench.trackers_throughput import measure

        print("- engine against live trackers (1, 2 and 4 workers)", flush=True)
        trackers = measure()
    # Here: a cycle with Django's start-up (the script picks settings first; apps load after setup()).
    from bench.processes import stop

    stop(redis)
    results = {
        "scale": args.scale,
        "database": database,
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
        "scenarios": report.scenarios(args.scale, database, meta, pages, bulk, engine, trackers),
        "seconds": round(time.monotonic() - began, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1) + "\n"
    (RESULTS / "latest.json").write_text(text)
    (RESULTS / f"{args.scale}-{database}.json").write_text(text)
    print(report.table(results))
    print(f"bench: written to {RESULTS / 'latest.json'} and {args.scale}-{database}.json")


if __name__ == "__main__":
    main()
