"""hardening: case-insensitive usernames; ids never reused on SQLite

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 20:30:00

- users.username_key: the casefolded username, unique; logins look it up, so `U1` and `u1` are one account.
  Existing accounts whose names differ only in case: the oldest keeps its name, each later one is renamed
  to `<name>-<id>` (logged as a warning; such a student logs in with the new name).
- SQLite: every table is rebuilt with AUTOINCREMENT, so the id of a deleted row is never handed out again
  (plain SQLite reuses the highest deleted id). PostgreSQL's sequences never reuse ids: nothing to do there.

Run through digitlab.core.db.migrate (`digitlab migrate` / the service's start), which turns SQLite's foreign
keys off for the rebuild: with them on, dropping the old copy of a parent table would cascade-delete rows.
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# Every table at this revision, parents before children.
TABLES = ["users", "auth_tokens", "projects", "jobs", "scans", "cells", "trainings", "training_events"]
USERNAME_LENGTH = 64


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _require_foreign_keys_off() -> None:
    if _sqlite() and op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "SQLite foreign keys are on: rebuilding tables would cascade-delete rows. "
            "Run the migration with `digitlab migrate` (or the service's start), which turns them off."
        )


def _rebuild_all(autoincrement: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def _fill_username_keys() -> None:
    connection = op.get_bind()
    users = sa.table(
        "users", sa.column("id", sa.Integer), sa.column("username", sa.String), sa.column("username_key", sa.String)
    )
    taken: set[str] = set()
    updates = []
    for user_id, name in connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)):
        new_name, n = name, 0
        while new_name.casefold() in taken:  # an older account has this name in another case
            n += 1
            suffix = f"-{user_id}" + (f"-{n}" if n > 1 else "")
            new_name = name[: USERNAME_LENGTH - len(suffix)] + suffix
        if new_name != name:
            log.warning(
                "username %r (user %s) clashes with an older account in another case: renamed to %r",
                name,
                user_id,
                new_name,
            )
        taken.add(new_name.casefold())
        updates.append({"uid": user_id, "new_name": new_name, "key": new_name.casefold()})
    if updates:
        connection.execute(
            users.update()
            .where(users.c.id == sa.bindparam("uid"))
            .values(username=sa.bindparam("new_name"), username_key=sa.bindparam("key")),
            updates,
        )


def upgrade() -> None:
    _require_foreign_keys_off()
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("username_key", sa.String(length=USERNAME_LENGTH), nullable=True))
    _fill_username_keys()
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("username_key", existing_type=sa.String(length=USERNAME_LENGTH), nullable=False)
        batch_op.drop_index("ix_users_username")
        batch_op.create_index("ix_users_username_key", ["username_key"], unique=True)
    if _sqlite():
        _rebuild_all(autoincrement=True)


def downgrade() -> None:
    _require_foreign_keys_off()
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_username_key")
        batch_op.drop_column("username_key")
        batch_op.create_index("ix_users_username", ["username"], unique=True)
    if _sqlite():
        _rebuild_all(autoincrement=False)
