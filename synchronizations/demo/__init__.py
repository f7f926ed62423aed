"""Demo data: four mappings, each between two sandbox repositories, about 2,000
syncs in every status over real sandbox artifacts (so that Retry really processes
them again), their log entries, and 90 days of sync events with their rollup; and
live traffic on those trackers while the console runs.

The value maps leave some values unmapped ("Blocker", "Blocked", …): syncs whose
artifacts carry them are in error for that real reason, and stay so until the value
map or the artifact is fixed.

- fixtures.py: the trackers, mappings, field map, values, status mix, text pools
- history.py: the made-up past of one sync, in the engine's words (engine/wording.py)
- seeding.py: seed(), remove_demo(), demo_present()
- traffic.py: DemoTraffic, what the demo_traffic command plays
- local_trackers.py: the repositories and mapping of `make run-trackers`
"""

from synchronizations.demo.fixtures import FIELD_MAP, MAPPINGS, demo_mapping_names, demo_repository_names
from synchronizations.demo.seeding import DemoBuilder, demo_present, remove_demo, seed
from synchronizations.demo.traffic import DemoTraffic

__all__ = [
    "FIELD_MAP",
    "MAPPINGS",
    "DemoBuilder",
    "DemoTraffic",
    "demo_mapping_names",
    "demo_present",
    "demo_repository_names",
    "remove_demo",
    "seed",
]
