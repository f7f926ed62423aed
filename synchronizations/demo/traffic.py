"""Live traffic on the demo trackers: what the `demo_traffic` command plays while
the console runs. It only does what a tracker's users do (create and edit
artifacts, now and then badly) and what a network does (an outage); the engine
notices and reacts as it would to real trackers."""

import random
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from synchronizations.demo.fixtures import (
    LEFT_STATUSES,
    PEOPLE,
    PRIORITIES,
    RIGHT_STATUSES,
    UNMAPPED,
    demo_mapping_names,
    left_fields,
)
from synchronizations.models import Mapping, Repository, SandboxArtifact, SandboxKeyNumber, Synchronization, SyncStatus


class DemoTraffic:
    """Plays the people using the demo trackers: creates and edits artifacts, now and
    then with a value the mapping cannot carry, and takes a repository offline for a
    short outage. One ``step()`` is one such action; every action returns a sentence
    saying what it did. ``seed`` makes the choices reproducible (None: not)."""

    OUTAGE = (15, 40)  # seconds

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)
        self.outages: dict[int, datetime] = {}  # repository id -> back online at

    def step(self) -> str:
        """Ends the outages that are over, then plays one action, chosen by weight,
        on one enabled demo mapping; returns what it did."""
        self._end_outages()
        mappings = list(Mapping.objects.filter(enabled=True, name__in=demo_mapping_names()))
        if not mappings:
            return "no enabled demo mapping: nothing to do"
        mapping = self.rng.choice(mappings)
        actions = [
            (self.create, 30),
            (self.edit_left, 30),
            (self.edit_right, 12),
            (self.unmappable_edit, 8),
            (self.create_without_title, 4),
            (self.fix_an_error, 10),
            (self.outage, 3),
        ]
        action = self.rng.choices([a for a, _ in actions], weights=[w for _, w in actions])[0]
        return action(mapping)

    def stop(self) -> None:
        """Ends every outage this player started."""
        for repository_id in list(self.outages):
            self._set_offline(repository_id, False)
        self.outages.clear()

    # --- actions ------------------------------------------------------------------

    def create(self, mapping: Mapping, fields: dict | None = None) -> str:
        """A new artifact on the mapping's left side (random fields unless given)."""
        fields = fields or left_fields(self.rng)
        with transaction.atomic():
            number = SandboxKeyNumber.take(mapping.left_id, mapping.left_scope)
            SandboxArtifact.objects.create(repository=mapping.left, key=f"{mapping.left_scope}-{number}", fields=fields)
        return f"created {mapping.left_scope}-{number} in '{mapping.left.name}': {fields['title'] or '(no title)'}"

    def edit_left(self, mapping: Mapping) -> str:
        """A left artifact gets another (mappable) status or priority."""
        return self._edit(mapping.left, mapping.left_scope, {"status": LEFT_STATUSES, "priority": PRIORITIES})

    def edit_right(self, mapping: Mapping) -> str:
        """A right artifact gets another status or assignee."""
        return self._edit(mapping.right, mapping.right_scope, {"status": RIGHT_STATUSES, "assignee": PEOPLE})

    def unmappable_edit(self, mapping: Mapping) -> str:
        """A left artifact gets a value the value map cannot carry: its sync will fail."""
        name = self.rng.choice(sorted(UNMAPPED))
        return self._edit(mapping.left, mapping.left_scope, {name: UNMAPPED[name]})

    def create_without_title(self, mapping: Mapping) -> str:
        """A new left artifact without the title the right side requires."""
        return self.create(mapping, {**left_fields(self.rng), "title": ""})

    def fix_an_error(self, mapping: Mapping) -> str:
        """Someone corrects the value that put a sync in error: it recovers by itself.
        With no sync in error, an ordinary left edit instead."""
        sync = Synchronization.objects.filter(mapping=mapping, status=SyncStatus.ERROR).order_by("?").first()
        artifact = sync and SandboxArtifact.objects.filter(repository=mapping.left, key=sync.left_key).first()
        if artifact is None:
            return self.edit_left(mapping)
        artifact.fields = {
            **artifact.fields,
            "title": artifact.fields.get("title") or "Untitled report",
            "status": self._mapped(artifact.fields.get("status"), LEFT_STATUSES),
            "priority": self._mapped(artifact.fields.get("priority"), PRIORITIES),
        }
        artifact.save()
        return f"fixed {artifact.key} in '{mapping.left.name}' (sync {sync.pk} was in error)"

    def outage(self, mapping: Mapping) -> str:
        """One of the mapping's repositories goes offline for OUTAGE seconds (ended
        by a later step() or stop()). If it is offline already, a left edit instead."""
        repository = self.rng.choice([mapping.left, mapping.right])
        if repository.pk in self.outages:
            return self.edit_left(mapping)
        seconds = self.rng.randint(*self.OUTAGE)
        self._set_offline(repository.pk, True)
        self.outages[repository.pk] = timezone.now() + timedelta(seconds=seconds)
        return f"'{repository.name}' goes offline for {seconds} s"

    # --- helpers ------------------------------------------------------------------

    def _mapped(self, value, allowed: list[str]) -> str:
        return value if value in allowed else self.rng.choice(allowed)

    def _edit(self, repository: Repository, scope: str, choices: dict[str, list[str]]) -> str:
        artifact = (
            SandboxArtifact.objects.filter(repository=repository, key__startswith=f"{scope}-").order_by("?").first()
        )
        if artifact is None:
            return f"nothing to edit in '{repository.name}' yet"
        name = self.rng.choice(sorted(choices))
        value = self.rng.choice(choices[name])
        artifact.fields = {**artifact.fields, name: value}
        artifact.save()
        return f"edited {artifact.key} in '{repository.name}': {name} = {value!r}"

    def _set_offline(self, repository_id: int, offline: bool) -> None:
        with transaction.atomic():
            repository = Repository.objects.select_for_update().get(pk=repository_id)
            repository.settings = {**repository.settings, "offline": offline}
            repository.save(update_fields=["settings"])

    def _end_outages(self) -> None:
        now = timezone.now()
        for repository_id, until in list(self.outages.items()):
            if until <= now:
                self._set_offline(repository_id, False)
                del self.outages[repository_id]
