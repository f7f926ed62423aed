from synchronizations.management.commands._selection import SelectionCommand
from synchronizations.models import Operation, SyncStatus


class Command(SelectionCommand):
    help = (
        "Clears the errors of syncs in error (they go to OK, or Ignored with --ignore-changes), "
        "chosen by the filters; nothing is processed. Records an Operation."
    )
    verb = "Clear errors"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--ignore-changes", action="store_true", help="Also ignore new changes of these syncs until retried."
        )

    def base_queryset(self, options):
        return super().base_queryset(options).filter(status=SyncStatus.ERROR)

    def action(self, options) -> str:
        return Operation.Action.CLEAR_IGNORE if options["ignore_changes"] else Operation.Action.CLEAR
