"""PostgreSQL: the references of the bulk-written tables checked once per insert statement, not once per row

A foreign key checks every inserted row with a query of its own: on PostgreSQL a trigger call and a parent row
lock per row, about 4 s of server CPU for the million accounts of an import (``accounts.import_id``) and about
2 s for the ~212,000 messages of a plan (``campaign_id``, ``account_id``, ``template_version_id``); while
sending, the part and receipt rows (``message_parts.message_id``, ``delivery_reports.message_id``) lock the
message row that the same path updates a moment later. On PostgreSQL these six foreign keys are replaced by
triggers that keep the same rules:

* an insert is checked once per statement (``AFTER INSERT … REFERENCING NEW TABLE … FOR EACH STATEMENT``: the
  distinct references of the new rows, one anti-join against each parent);
* changing a reference (``UPDATE OF`` the column) is checked row by row, as before;
* deleting a parent, or changing its id, is refused while a row refers to it (``NO ACTION``, as before). The
  guard first takes a ``SHARE`` lock on the child table, which waits for every transaction inserting into it
  and keeps new inserts out until the delete commits: the lock a foreign key takes on each parent row at each
  insert is taken once at the (rare; dunning never does it) parent delete.

Errors keep the foreign key's SQLSTATE (23503) and name. SQLite keeps the foreign keys: its checks are inline and
cheap, and a row trigger there costs more than the key (measured). The models still declare the keys;
``dunning.db.references.CHECKED_BY_STATEMENT`` names these six, and the schema test checks that PostgreSQL has
their triggers instead. See docs/scale.md.

Revision ID: 0020
Revises: 0019
"""
from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# (child table, column, parent table): each was a foreign key to the parent's ``id``. Frozen here as migrations
# are; dunning.db.references.CHECKED_BY_STATEMENT lists the same six.
REFERENCES = [
    ("accounts", "import_id", "imports"),
    ("messages", "campaign_id", "campaigns"),
    ("messages", "account_id", "accounts"),
    ("messages", "template_version_id", "template_versions"),
    ("message_parts", "message_id", "messages"),
    ("delivery_reports", "message_id", "messages"),
]


def _fk(child: str, col: str, parent: str) -> str:
    return f"fk_{child}_{col}_{parent}"


def _children() -> list[str]:
    return list(dict.fromkeys(child for child, _, _ in REFERENCES))


def _parents() -> list[str]:
    return list(dict.fromkeys(parent for _, _, parent in REFERENCES))


def _raise_pg(name: str, what: str) -> str:
    return (f"RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{name}', "
            f"MESSAGE = '{what} violates foreign key constraint \"{name}\"';")


def _inserted_check(child: str) -> str:
    """The body of ``<child>_references_inserted``: one pass over the statement's new rows (their distinct
    references), then one anti-join per parent on that small set; raises naming the first broken reference."""
    refs = [(col, parent) for c, col, parent in REFERENCES if c == child]
    cols = ", ".join(col for col, _ in refs)
    broken = [f"(n.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.id = n.{col}))"
              for col, parent in refs]
    which = " ".join(f"WHEN {b} THEN '{_fk(child, col, parent)}'" for b, (col, parent) in zip(broken, refs, strict=True))
    return (f"DECLARE\n  broken text;\nBEGIN\n"
            f"  SELECT CASE {which} END INTO broken FROM (SELECT DISTINCT {cols} FROM new_rows) AS n\n"
            f"  WHERE {' OR '.join(broken)} LIMIT 1;\n"
            f"  IF broken IS NOT NULL THEN\n"
            f"    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = broken,\n"
            f"      MESSAGE = format('insert on table {child} violates foreign key constraint \"%s\"', broken);\n"
            f"  END IF;\n  RETURN NULL;\nEND")


def _pg_upgrade() -> None:
    for child in _children():
        op.execute(f"CREATE FUNCTION {child}_references_inserted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                   f"{_inserted_check(child)} $$")
        op.execute(f"CREATE TRIGGER {child}_references_inserted AFTER INSERT ON {child} "
                   f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {child}_references_inserted()")
    for child, col, parent in REFERENCES:
        name = _fk(child, col, parent)
        op.execute(f"ALTER TABLE {child} DROP CONSTRAINT {name}")
        op.execute(f"CREATE FUNCTION {name}_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                   f"BEGIN\n  IF NOT EXISTS (SELECT 1 FROM {parent} WHERE id = NEW.{col}) THEN\n"
                   f"    {_raise_pg(name, f'update on table {child}')}\n  END IF;\n  RETURN NEW;\nEND $$")
        op.execute(f"CREATE TRIGGER {name}_changed BEFORE UPDATE OF {col} ON {child} FOR EACH ROW "
                   f"WHEN (NEW.{col} IS NOT NULL AND NEW.{col} IS DISTINCT FROM OLD.{col}) "
                   f"EXECUTE FUNCTION {name}_changed()")
    for parent in _parents():
        guards = "\n".join(
            f"  LOCK TABLE {child} IN SHARE MODE;\n"
            f"  IF EXISTS (SELECT 1 FROM {child} WHERE {col} = OLD.id) THEN\n"
            f"    {_raise_pg(_fk(child, col, parent), f'update or delete on table {parent}')}\n  END IF;"
            for child, col, p in REFERENCES if p == parent)
        op.execute(f"CREATE FUNCTION {parent}_referenced_removed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                   f"BEGIN\n{guards}\n  RETURN OLD;\nEND $$")
        op.execute(f"CREATE TRIGGER {parent}_referenced_deleted BEFORE DELETE ON {parent} FOR EACH ROW "
                   f"EXECUTE FUNCTION {parent}_referenced_removed()")
        op.execute(f"CREATE TRIGGER {parent}_referenced_renumbered BEFORE UPDATE OF id ON {parent} FOR EACH ROW "
                   f"WHEN (NEW.id IS DISTINCT FROM OLD.id) EXECUTE FUNCTION {parent}_referenced_removed()")


def _pg_downgrade() -> None:
    for parent in _parents():
        op.execute(f"DROP TRIGGER {parent}_referenced_deleted ON {parent}")
        op.execute(f"DROP TRIGGER {parent}_referenced_renumbered ON {parent}")
        op.execute(f"DROP FUNCTION {parent}_referenced_removed()")
    for child, col, parent in REFERENCES:
        name = _fk(child, col, parent)
        op.execute(f"DROP TRIGGER {name}_changed ON {child}")
        op.execute(f"DROP FUNCTION {name}_changed()")
        op.create_foreign_key(name, child, parent, [col], ["id"])
    for child in _children():
        op.execute(f"DROP TRIGGER {child}_references_inserted ON {child}")
        op.execute(f"DROP FUNCTION {child}_references_inserted()")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_downgrade()
