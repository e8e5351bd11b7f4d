"""References that PostgreSQL checks once per insert statement instead of once per row (migration 0020).

The models declare them as foreign keys, and SQLite keeps them as such. On PostgreSQL a foreign key costs a
trigger call and a parent row lock per inserted row: seconds for the million accounts of an import or the
messages of a plan, and a lock on the message row for each part and receipt recorded while sending. There they
are triggers with the same rules (the migration's docstring, docs/scale.md); the schema test checks that those
triggers exist where the keys do not.
"""

from __future__ import annotations

from dunning.db.models import Base

# The tables written in bulk (an import's accounts, a plan's messages, a send's parts and receipts): on
# PostgreSQL every foreign key they declare is checked per statement.
BULK_WRITTEN = ("accounts", "messages", "message_parts", "delivery_reports")

# (child table, column, parent table): the child's column refers to the parent's ``id``.
CHECKED_BY_STATEMENT: tuple[tuple[str, str, str], ...] = tuple(sorted(
    (table, fk.parent.name, fk.column.table.name)
    for table in BULK_WRITTEN for fk in Base.metadata.tables[table].foreign_keys))


def trigger_names(child: str, column: str, parent: str) -> list[str]:
    """The PostgreSQL triggers that stand for the foreign key ``child.column → parent.id``."""
    name = f"fk_{child}_{column}_{parent}"
    return [f"{child}_references_inserted", f"{name}_changed", f"{parent}_referenced_deleted",
            f"{parent}_referenced_renumbered"]
