from synchronizations.management.commands._selection import SelectionCommand
from synchronizations.models import Operation, SyncStatus


class Command(SelectionCommand):
    help = "Retries the syncs chosen by the filters: they are queued for processing again. Records an Operation."
    verb = "Retry"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--status", choices=SyncStatus.values, help="Only syncs in this status.")

    def base_queryset(self, options):
        queryset = super().base_queryset(options)
        return queryset.filter(status=options["status"]) if options["status"] else queryset

    def selection(self, options):
        queryset, filters = super().selection(options)
        if options["status"]:
            filters["status"] = options["status"]
        return queryset, filters

    def action(self, options) -> str:
        return Operation.Action.RETRY
