import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import assign_role
from synchronizations import demo
from syncweb.env import env_bool, env_str

PASSWORD_FILE = "initial_admin_password"  # noqa: S105  (a file name, not a password)


class Command(BaseCommand):
    help = (
        "Prepares an embedded installation on its first start: an admin web user "
        "(SYNCWEB_USERNAME / SYNCWEB_PASSWORD, or a generated password kept in "
        "var/initial_admin_password) and the demo data (unless SYNCWEB_DEMO=0). "
        "Later starts change nothing. --print-login prints the URL and the login."
    )

    def add_arguments(self, parser):
        parser.add_argument("--print-login", action="store_true", help="Only print where and how to log in.")

    def handle(self, *args, print_login: bool, **options):
        if print_login:
            self._print_login()
            return
        User = get_user_model()
        if not User.objects.exists():
            username = env_str("SYNCWEB_USERNAME", "admin")
            password = env_str("SYNCWEB_PASSWORD", "")
            generated = not password
            password = password or secrets.token_urlsafe(12)
            with transaction.atomic():
                user = User.objects.create_user(username=username, password=password)
                assign_role(user, "admin")
            if generated:
                path = self._password_file()
                path.touch(mode=0o600)
                path.write_text(f"{username}\n{password}\n")
            self.stdout.write(self.style.SUCCESS(f"Created the admin web user {username!r}."))
        if env_bool("SYNCWEB_DEMO", True) and not demo.demo_present():
            call_command("seed_demo", stdout=self.stdout)

    def _password_file(self):
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        return settings.VAR_DIR / PASSWORD_FILE

    def _print_login(self):
        url = f"http://localhost:{settings.SYNCWEB_PORT}/sync/"
        path = self._password_file()
        User = get_user_model()
        line = "Log in with a web user (create one with: manage.py webuser NAME --role admin)."
        if path.exists():
            username, _, password = path.read_text().strip().partition("\n")
            user = User.objects.filter(username=username).first()
            if user is not None and user.check_password(password):
                line = f"Log in as {username!r} with password {password!r} (generated; kept in {path})."
        elif env_str("SYNCWEB_PASSWORD", ""):
            # The user the first start made from SYNCWEB_USERNAME (default admin), if
            # it still has that password.
            username = env_str("SYNCWEB_USERNAME", "") or "admin"
            user = User.objects.filter(username=username).first()
            if user is not None and user.check_password(env_str("SYNCWEB_PASSWORD", "")):
                line = f"Log in as {username!r} with the password of SYNCWEB_PASSWORD."
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"syncweb is running at {url}"))
        self.stdout.write(line)
        self.stdout.write("Press Ctrl-C to stop everything.")
        self.stdout.write("")
