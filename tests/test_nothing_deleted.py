"""Nothing in a tracker is ever deleted by syncweb (issue 14): no connector can
delete, and the HTTP connectors never send DELETE, neither in their code nor on the
wire during a live run."""

import ast
import inspect
from pathlib import Path

import httpx
import pytest

from synchronizations.connectors import REGISTRY, Connector
from synchronizations.connectors.http import HttpConnector
from tests.harness_roundup import create_keyword, roundup_connector

CONNECTORS = Path(__file__).resolve().parent.parent / "synchronizations" / "connectors"
DELETING = ("delete", "remove", "retire", "destroy", "purge")


@pytest.mark.parametrize("connector_class", [Connector, *REGISTRY.values()])
def test_no_connector_has_a_method_that_deletes(connector_class):
    names = [name for name, _ in inspect.getmembers(connector_class, callable)]
    assert [name for name in names if any(word in name.lower() for word in DELETING)] == []


@pytest.mark.parametrize("path", sorted(CONNECTORS.glob("*.py")), ids=lambda path: path.name)
def test_no_connector_module_sends_delete_or_deletes_a_row(path):
    tree = ast.parse(path.read_text())
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert [text for text in strings if text.strip().upper() == "DELETE"] == []
    assert [name for name in attribute_calls(tree) if name.lower() == "delete"] == []


def attribute_calls(tree: ast.AST) -> list[str]:
    return [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]


@pytest.mark.live
@pytest.mark.django_db
def test_roundup_sees_no_delete_from_us_in_a_whole_connector_run(roundup_server, unique_name, monkeypatch):
    sent: list[str] = []
    send = httpx.Client.send

    def recording(self, request, **kwargs):
        sent.append(request.method)
        return send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", recording)
    create_keyword(roundup_server, unique_name)
    roundup = roundup_connector(roundup_server, f"Roundup {unique_name}")
    assert isinstance(roundup, HttpConnector)
    roundup.ping()
    roundup.check(unique_name, ["title", "status"])
    made = roundup.create(unique_name, {"title": "Kept", "status": "unread", "priority": "bug"})
    roundup.update(made.key, {"title": "Kept, edited", "messages": ["A note"]}, made.version)
    roundup.changed_since(unique_name, "")
    roundup.get(made.key)
    assert {"GET", "POST", "PUT"} <= set(sent)
    assert "DELETE" not in sent
