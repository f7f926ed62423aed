import getpass
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.roles import ROLES, assign_role


class Command(BaseCommand):
    help = (
        "Creates or updates a web user of the console: sets its password and its role "
        "(viewer sees, operator also acts on syncs, admin also uses the Django admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=sorted(ROLES), help="The user's role.")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from the first line of standard input instead of asking twice.",
        )

    def handle(self, *args, username: str, role: str, password_stdin: bool, **options):
        username = username.strip()
        if not username:
            raise CommandError("The username must not be empty.")
        password = self._read_password(password_stdin)
        User = get_user_model()
        user = User.objects.filter(username=username).first() or User(username=username)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("The password is refused: " + " ".join(exc.messages)) from None
        created = user.pk is None
        with transaction.atomic():
            user.set_password(password)
            user.is_active = True
            user.save()
            assign_role(user, role)
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} web user {username!r} with role {role}."))

    def _read_password(self, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            if not sys.stdin.isatty():
                raise CommandError("No terminal to ask for the password on: pass it with --password-stdin.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ; nothing was changed.")
        if not password.strip():
            raise CommandError("The password must not be empty; nothing was changed.")
        return password
