"""What the demo is made of: its trackers and mappings, the field map they share,
the values each side allows (and the few the value maps leave out, so that some
syncs fail for a real reason), the mix of statuses, and the words titles are made
from. Data only, plus the random left-side artifact both the seeding and the live
traffic create."""

import random
from dataclasses import dataclass

from synchronizations.models import SyncStatus

# Jira-like on the left, QA-tracker-like on the right.
LEFT_STATUSES = ["Open", "In Progress", "Done"]
RIGHT_STATUSES = ["New", "Active", "Closed"]
PRIORITIES = ["Highest", "High", "Medium", "Low"]
SEVERITIES = ["Critical", "Major", "Minor", "Trivial"]
# Values the left tracker allows and the value maps cannot carry: field -> values.
UNMAPPED = {"priority": ["Blocker", "Needs triage"], "status": ["Blocked", "Won't fix"]}

FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "description", "right": "description", "direction": "both"},
    {
        "left": "status",
        "right": "status",
        "direction": "both",
        "values": dict(zip(LEFT_STATUSES, RIGHT_STATUSES, strict=True)),
    },
    {
        "left": "priority",
        "right": "severity",
        "direction": "left_to_right",
        "values": dict(zip(PRIORITIES, SEVERITIES, strict=True)),
    },
    {"left": "assignee", "right": "assignee", "direction": "both"},
]
# Repository.settings of the sandbox trackers on each side (required fields, allowed values).
LEFT_SETTINGS = {"required": ["title"], "allowed": {"status": LEFT_STATUSES + UNMAPPED["status"]}}
RIGHT_SETTINGS = {"required": ["title"], "allowed": {"status": RIGHT_STATUSES, "severity": SEVERITIES}}


@dataclass(frozen=True)
class DemoMapping:
    """One demo mapping: its name, each side's repository name and key prefix (also
    the mapping's scope on that side), its share of all demo syncs (0..1), and
    whether it is enabled."""

    name: str
    left: tuple[str, str]  # repository name, key prefix
    right: tuple[str, str]
    share: float  # of all syncs
    enabled: bool = True


MAPPINGS = [
    DemoMapping("Web defects ↔ QA tickets", ("Jira · Web shop", "WEB"), ("QA Tracker · Web shop", "DEF"), 0.45),
    DemoMapping("Mobile bugs ↔ GitHub issues", ("Jira · Mobile", "MOB"), ("GitHub · acme/mobile-app", "GH"), 0.25),
    DemoMapping("Support escalations ↔ Engineering", ("Support Desk", "CASE"), ("Jira · Engineering", "ENG"), 0.25),
    DemoMapping(
        "Roadmap epics ↔ QA plans (paused)", ("Jira · Roadmap", "RM"), ("QA Tracker · Plans", "PLAN"), 0.05, False
    ),
]

# Share of the seeded syncs in each status (sums to 1).
STATUS_MIX = [
    (SyncStatus.OK, 0.80),
    (SyncStatus.PENDING, 0.05),
    (SyncStatus.PROCESSING, 0.01),
    (SyncStatus.ERROR, 0.10),
    (SyncStatus.IGNORED, 0.04),
]
COMPONENTS = [
    "Checkout", "Login", "Search", "Reports", "Notifications", "Public API", "Billing",
    "Dashboard", "CSV export", "User settings", "Invoices", "Onboarding",
]  # fmt: skip
PROBLEMS = [
    "fails with HTTP 500 when the cart is empty",
    "button is cut off on small screens",
    "takes over 10 s with more than 1,000 rows",
    "shows times in the wrong time zone",
    "crashes right after the 4.2 update",
    "sends the confirmation e-mail twice",
    "has a typo in the confirmation dialog",
    "drops the last column",
    "logs the user out after 5 minutes",
    "refuses attachments over 10 MB",
    "ignores the saved language preference",
    "rounds totals to the wrong cent",
]
PEOPLE = ["alice", "bob", "chen", "dana", "emeka", "farah", "gus", ""]  # "": unassigned
LABELS = ["customer", "regression", "ui", "backend", "security"]


def demo_mapping_names() -> list[str]:
    """The names of the demo mappings (what tells demo data from the operator's own)."""
    return [m.name for m in MAPPINGS]


def demo_repository_names() -> set[str]:
    """The names of the demo's sandbox repositories, both sides of every mapping."""
    return {name for m in MAPPINGS for name, _ in (m.left, m.right)}


def left_fields(rng: random.Random) -> dict:
    """The fields of a new left-side artifact (all mappable): title, description,
    status, priority, assignee, labels."""
    return {
        "title": f"{rng.choice(COMPONENTS)} {rng.choice(PROBLEMS)}",
        "description": "Steps to reproduce are in the first comment.",
        "status": rng.choice(LEFT_STATUSES),
        "priority": rng.choice(PRIORITIES),
        "assignee": rng.choice(PEOPLE),
        "labels": rng.sample(LABELS, 2),
    }
