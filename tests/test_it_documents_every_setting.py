"""Every environment variable timelines/settings.py reads is described in the configuration
table of docs/operators.md, once, and the table describes nothing the settings do not read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_by_the_settings():
    """The variables timelines/settings.py reads: env("NAME"), env.int("NAME", ...) and alike."""
    source = (ROOT / "timelines" / "settings.py").read_text()
    return re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source)


def table_rows():
    """The first column of the table under docs/operators.md's "## Configuration"."""
    guide = (ROOT / "docs" / "operators.md").read_text()
    section = guide.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"(?m)^\| `([A-Z][A-Z0-9_]*)` \|", section)


def test_the_table_describes_every_variable_the_settings_read():
    missing = set(read_by_the_settings()) - set(table_rows())
    assert not missing, f"read by timelines/settings.py, not in docs/operators.md: {missing}"


def test_the_table_describes_nothing_the_settings_do_not_read():
    stale = set(table_rows()) - set(read_by_the_settings())
    assert not stale, f"in docs/operators.md, never read by timelines/settings.py: {stale}"


def test_each_variable_is_described_once():
    rows = table_rows()
    assert len(rows) == len(set(rows)), sorted(name for name in rows if rows.count(name) > 1)
    assert len(rows) >= 38


def test_no_other_doc_has_a_table_of_settings():
    """Described once: other pages name a setting and link the table."""
    names = set(read_by_the_settings())
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text()
        if page.name == "operators.md":
            text = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[1]
        rows = set(re.findall(r"(?m)^\s*\| `([A-Z][A-Z0-9_]*)` \|", text)) & names
        assert not rows, f"{page.name} has a table row for {rows}"
