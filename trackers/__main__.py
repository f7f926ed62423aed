"""`python -m trackers` (what `make trackers` runs): starts Roundup and, where it is
installed, Redmine on 127.0.0.1, prints their URLs, credentials and scopes, and keeps
them running until Ctrl-C."""

import argparse
import json
import shutil
import signal
import sys
from pathlib import Path

from trackers.base import TrackerStartError
from trackers.local import DEFAULT_WORKDIR, REDMINE_PORT, ROUNDUP_PORT, LocalTrackers


def port(text: str) -> int:
    """A TCP port number, 1024 to 65535 (argparse type)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1024 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"a port between 1024 and 65535, not {number}")
    return number


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trackers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--roundup-port", type=port, default=ROUNDUP_PORT, help="default %(default)s")
    parser.add_argument("--redmine-port", type=port, default=REDMINE_PORT, help="default %(default)s")
    parser.add_argument("--no-redmine", action="store_true", help="start Roundup only")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="their files (default var/trackers)")
    parser.add_argument("--fresh", action="store_true", help="delete the trackers' files first: start empty")
    parser.add_argument("--json", action="store_true", help="print what was started as JSON")
    return parser.parse_args(argv)


def render(description: dict) -> str:
    """describe() as lines for a person."""
    lines = []
    for name, tracker in description.items():
        if "skipped" in tracker:
            lines.append(f"{name}: not started ({tracker['skipped']})")
            continue
        lines.append(f"{name}: {tracker['base_url']}")
        lines.append(f"  admin: {tracker['username']} / {tracker['password']}")
        if "api_key" in tracker:
            lines.append(f"  admin's API key: {tracker['api_key']}")
        user = tracker["user"]
        lines.append(f"  user:  {user['username']} / {user['password']}")
        lines.append(f"  scope: {tracker['scope'] or '(empty: the whole tracker)'}")
        lines.append(f"  log:   {tracker['log']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.fresh:
        shutil.rmtree(args.workdir, ignore_errors=True)
    # Ctrl-C and `kill` stop the trackers, even when started with SIGINT ignored (as a
    # shell without job control starts a background command).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    trackers = LocalTrackers(args.workdir, args.roundup_port, args.redmine_port, with_redmine=not args.no_redmine)
    print(f"Starting {' and '.join(s.kind for s in trackers.servers)} (a first Redmine start takes a while) ...")
    try:
        trackers.start()
        print(json.dumps(trackers.describe(), indent=2) if args.json else render(trackers.describe()))
        print("Ctrl-C stops them.", flush=True)
        stopped = trackers.wait()
        print(f"{stopped.kind} stopped on its own; see {stopped.log_path}", file=sys.stderr)
        return 1
    except TrackerStartError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopping ...")
        return 0
    finally:
        trackers.stop()


if __name__ == "__main__":
    sys.exit(main())
