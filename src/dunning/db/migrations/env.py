from __future__ import annotations

from alembic import context

import dunning.db.agency_models  # noqa: F401  (the agency tables belong to the same metadata)
from dunning.db import calendar_models  # noqa: F401  (its table belongs to the metadata)
from dunning.db.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
