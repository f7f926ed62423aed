"""manage.py check_repository NAME: Test connection from the command line."""

from django.core.management.base import BaseCommand, CommandError

from synchronizations.engine.health import check_repository
from synchronizations.models import Repository


class Command(BaseCommand):
    help = (
        "Checks a repository as the admin's Test connection does: that the tracker answers, accepts the "
        "credentials, and that every mapping's scope and every field its field map names exist there. "
        "Exits with status 1 when something is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The repository's name (as in the admin).")

    def handle(self, *args, name: str, **options):
        repository = Repository.objects.filter(name=name).first()
        if repository is None:
            known = ", ".join(Repository.objects.values_list("name", flat=True)[:20]) or "none"
            raise CommandError(f"No repository named {name!r} (known: {known}).")
        report = check_repository(repository)
        self.stdout.write(f"Reachable: {'yes' if report.reachable else 'no'}")
        checked = "yes" if report.authenticated else ("no" if report.reachable else "not checked")
        self.stdout.write(f"Credentials accepted: {checked}")
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"- {problem}"))
        if not report.ok:
            raise CommandError(f"Repository '{name}': {len(report.problems)} problem(s) found.")
        self.stdout.write(
            self.style.SUCCESS(f"Repository '{name}' is reachable and every mapping's scope and fields exist.")
        )
