"""A message's status changes only through whatsapp.status.move, the one compare-and-swap that
announces each change once. Checked in the source, as the row-lock test does, so that a new
`update(status=...)` or `message.status = ...; save()` cannot creep back in."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["timelines", "whatsapp", "webhooks", "credits"]
THE_ONE_PLACE = ROOT / "whatsapp" / "status.py"


def mentions_message(node):
    """True when an expression reads like a message or a query of messages."""
    names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
    names += [n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)]
    return any(name == "Message" or "message" in name.lower() for name in names)


def status_writes(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, keywords = node.func.attr, {k.arg: k.value for k in node.keywords}
            if method == "update" and "status" in keywords and mentions_message(node.func):
                yield node.lineno, "update(status=...)"
            fields = keywords.get("update_fields") or (
                node.args[1] if method == "bulk_update" and len(node.args) > 1 else None
            )
            if method in ("save", "bulk_update") and fields is not None:
                written = {getattr(e, "value", None) for e in getattr(fields, "elts", [])}
                if "status" in written and mentions_message(node.func):
                    yield node.lineno, f"{method} of the status"
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for element in getattr(target, "elts", [target]):
                    if (
                        isinstance(element, ast.Attribute)
                        and element.attr == "status"
                        and mentions_message(element.value)
                    ):
                        yield node.lineno, "assignment to message.status"


def places():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or path == THE_ONE_PLACE:
                continue
            for line, what in status_writes(ast.parse(path.read_text(), filename=str(path))):
                yield f"{path.relative_to(ROOT)}:{line} ({what})"


def test_it_recognises_each_way_of_writing_a_status():
    source = """
Message.objects.filter(pk=1).update(status="sent")
message.status = "sent"
message.save(update_fields=["status", "sent_at"])
chat.messages.filter(status="queued").update(status="failed")
Message.objects.bulk_update(messages, ["status"])
"""
    assert len(list(status_writes(ast.parse(source)))) == 5


def test_it_leaves_other_models_statuses_alone():
    source = """
account.status = "connected"
self.save(update_fields=["status"])
WahaConnection.objects.filter(pk=1).update(status="WORKING")
"""
    assert list(status_writes(ast.parse(source))) == []


def test_every_status_change_goes_through_move():
    assert list(places()) == []
