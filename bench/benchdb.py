"""The benches' PostgreSQL database, dropped and created afresh on every run: rows and dead tuples
left by earlier runs (on a server with autovacuum off, they pile up) make figures drift."""

from urllib.parse import urlsplit


def fresh_postgres_database(url):
    """Drop and re-create the database `url` names; it must have "bench" in its name."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(
            f"The bench drops and re-creates its database: name one with 'bench' in it "
            f"(not {name!r})."
        )
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
