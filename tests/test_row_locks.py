"""The lock order of credits/models.py holds only if every row lock names its own table and
leaves keys alone: a FOR UPDATE (not NO KEY) on an account, chat or workspace blocks the foreign-key
checks an inbound request's COMMIT makes while it holds the balance row. Checked in the source, so
a new `select_for_update` cannot forget it."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["timelines", "whatsapp", "webhooks", "credits"]


def row_locks():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == (
                    "select_for_update"
                ):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def test_it_finds_the_row_locks_it_checks():
    assert len(list(row_locks())) >= 8


def test_every_row_lock_is_of_its_own_rows_and_no_key():
    careless = []
    for place, call in row_locks():
        given = {k.arg: k.value for k in call.keywords}
        of_self = isinstance(given.get("of"), ast.Tuple) and [
            getattr(e, "value", None) for e in given["of"].elts
        ] == ["self"]
        no_key = getattr(given.get("no_key"), "value", None) is True
        if not (of_self and no_key):
            careless.append(place)
    assert not careless, f'select_for_update without of=("self",), no_key=True: {careless}'
