from __future__ import annotations

from alembic import context

import dunning.db.agency_models  # noqa: F401  (the agency tables belong to the same metadata)
from dunning.db import calendar_models  # noqa: F401  (its table belongs to the metadata)
from dunning.db.models import Base

config = context.config
engine = config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"

with engine.connect() as connection:
    if sqlite:
        # A batch migration rebuilds a table (create a copy, drop the original, rename): with foreign keys
        # enforced, dropping a table that others refer to fails once it holds rows. Enforcement is switched off
        # for the migration (the pragma only takes effect outside a transaction), every reference is checked
        # after it, and it is switched back on before the connection returns to the pool.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.commit()
            if broken:
                raise RuntimeError(f"migration left rows whose references are missing: {broken[:10]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
