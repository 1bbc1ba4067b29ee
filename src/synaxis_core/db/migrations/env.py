"""Alembic environment: runs on a connection handed in by ``synaxis_core.db.migrate``."""

from alembic import context

from synaxis_core.db.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `synaxis db upgrade` (SYNAXIS_DATABASE_URL selects the database)")
_run(connection)
