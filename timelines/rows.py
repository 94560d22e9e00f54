"""Hand-written INSERTs of model instances, for the rare hot path that cannot afford the ORM (the
inbound endpoint, which on PostgreSQL folds its writes into one statement).

Columns and values come from the model's own fields, converted exactly as `Model.save()` would
convert them (defaults, `auto_now_add`, JSON and integer adaptation), so a field added to a model
can never be missed by the hand-written SQL. The SQL text depends on the model only, which lets
the database prepare it once per connection.
"""

from datetime import UTC, datetime

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.utils import timezone

# Columns whose value, of this exact type, the field converts by a plain read (pre_save) and at
# most a type wrapper (get_db_prep_save): the field machinery is skipped for them, which halves
# the cost of a row. What the wrapper is, is asked of the field itself, once per database.
SHORTCUTS = {
    models.CharField: ("x", str),
    models.TextField: ("x", str),
    models.URLField: ("x", str),
    models.BooleanField: (True, bool),
    models.IntegerField: (1, int),
    models.PositiveIntegerField: (1, int),
    models.PositiveSmallIntegerField: (1, int),
    models.BigIntegerField: (1, int),
    models.ForeignKey: (1, int),  # its attname holds the target's integer key
    models.DateTimeField: (datetime(2000, 1, 1, tzinfo=UTC), datetime),
}


ONE_ROW = "(SELECT 1) AS one_row"


class RowInsert:
    """`INSERT INTO <model's table> (<every column but the primary key>) SELECT ...`.

    `computed` maps attribute names (e.g. "chat_id") to SQL expressions that take their value
    inside the statement (e.g. "new_chat.id"); every other column is a parameter.
    """

    def __init__(self, model, computed=None):
        self.model = model
        self.computed = dict(computed or {})
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.param_fields = [f for f in self.fields if f.attname not in self.computed]
        self._plans = {}
        unknown = set(self.computed) - {f.attname for f in self.fields}
        if unknown:
            raise ValueError(f"{model.__name__} has no column for {sorted(unknown)}")

    def sql(self, source=ONE_ROW, *, on_conflict="", returning="id"):
        """The statement, selecting from `source` (a CTE's name: no row there, no insert)."""
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in self.fields)
        # PostgreSQL needs typed parameters: one in a SELECT list has no column to take its type
        # from. SQLite must not get them: a CAST to a date type would turn a date into a number.
        typed = "CAST(%s AS {})" if connection.vendor == "postgresql" else "%s"
        values = ", ".join(
            self.computed.get(f.attname) or typed.format(f.cast_db_type(connection))
            for f in self.fields
        )
        table = quote(self.model._meta.db_table)
        # WHERE TRUE: SQLite would read the ON of ON CONFLICT as a join's without a WHERE.
        sql = f"INSERT INTO {table} ({columns}) SELECT {values} FROM {source} WHERE TRUE"
        if on_conflict:
            sql += f" {on_conflict}"
        return f"{sql} RETURNING {returning}" if returning else sql

    def params(self, instance):
        """The parameters for `instance`, in the statement's order; fills `auto_now_add` fields
        on the instance as save() would."""
        # The connection itself, not the `connection` proxy: each field asks it for its operations,
        # and a lookup through the proxy costs more than the conversion.
        db = connections[DEFAULT_DB_ALIAS]
        params = []
        for field, attname, kind, wrap, stamped in self._plan(db):
            if kind is not None:
                if stamped:  # what pre_save does for auto_now_add on an insert
                    setattr(instance, attname, timezone.now())
                value = getattr(instance, attname)
                if type(value) is kind:
                    params.append(value if wrap is None else wrap(value))
                    continue
                if value is None:  # NULL, which the field would pass unchanged (see _step)
                    params.append(None)
                    continue
            params.append(field.get_db_prep_save(field.pre_save(instance, True), db))
        return params

    def _plan(self, db):
        """`_step` per parameter."""
        plan = self._plans.get(db.vendor)
        if plan is None:
            plan = self._plans[db.vendor] = [_step(f, db) for f in self.param_fields]
        return plan


def _step(field, db):
    """(field, attname, the type that takes the shortcut or None, its wrapper, whether it stamps
    the insert's time as auto_now_add does). A field that takes the shortcut passes None (a
    nullable column left empty) unchanged too, as asked of the field here."""
    slow = field, field.attname, None, None, False
    shortcut = SHORTCUTS.get(type(field))
    if shortcut is None or getattr(field, "auto_now", False):  # auto_now rewrites any value
        return slow
    if field.get_db_prep_save(None, db) is not None:
        return slow
    stamped = getattr(field, "auto_now_add", False)
    sample, kind = shortcut
    converted = field.get_db_prep_save(sample, db)
    if converted == sample and type(converted) is kind:
        return field, field.attname, kind, None, stamped  # passed unchanged
    if isinstance(converted, kind) and converted == sample:
        return field, field.attname, kind, type(converted), stamped  # a typed wrapper (Int4)
    return slow  # a real conversion (SQLite's datetimes as text)


def mark_saved(instance, pk):
    """Make an instance inserted by hand look like one `save()` inserted."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def table(model):
    """The model's table name, quoted for this database."""
    return connection.ops.quote_name(model._meta.db_table)


def fetch_one(sql, params):
    """The first row of one statement (None when there is none).

    On PostgreSQL through a server-side binding cursor that asks psycopg to prepare the statement:
    psycopg keeps the prepared statements of each connection, and forgets them when a rollback
    discards them, so nothing of ours can go stale. (Django's own cursors bind on the client and
    never prepare.) With prepared statements off (DB_PREPARED_STATEMENTS=false, behind a pooler
    in transaction mode) psycopg does not prepare.
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: every lookup through the proxy costs
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    db.ensure_connection()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()
