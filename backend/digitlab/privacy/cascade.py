"""What belongs to what: the rows that the database's ON DELETE CASCADE foreign keys delete with a row.

Deleting an account is one DELETE of its `users` row: the database deletes everything that hangs off it
(projects -> scans -> cells, jobs, trainings -> events, memberships, tokens, and whatever a later table ties to
one of these with ON DELETE CASCADE). That same closure is what "everything of this student" means for an
export, and what "the class's data" means for a class. Computing it from the schema's foreign keys, rather than
from a list of tables kept by hand, means a new table is exported and deleted the moment it is declared with
a cascading foreign key, and can never be exported without being deleted or the other way round.

Each closure is a SQL condition per table (nested `IN (SELECT ...)`), so no list of ids is ever held in memory.
"""

from sqlalchemy import ColumnElement, ForeignKey, Table, and_, or_, select
from sqlmodel import SQLModel

import digitlab.all_tables  # noqa: F401  (every table must be in the metadata for the closure to be complete)


def cascades(foreign_key: ForeignKey) -> bool:
    return (foreign_key.ondelete or "").upper() == "CASCADE"


def all_tables() -> list[Table]:
    """Every table, parents before children."""
    return list(SQLModel.metadata.sorted_tables)


def table_named(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def _sorted_keys(table: Table) -> list[ForeignKey]:
    return sorted(table.foreign_keys, key=lambda key: (key.parent.name, key.target_fullname))


def cascade_closure(root: Table, root_rows: ColumnElement[bool]) -> dict[Table, ColumnElement[bool]]:
    """For every table with rows that deleting the `root_rows` of `root` deletes, the condition that selects
    exactly those rows (the root itself included). Tables untouched by such a deletion are absent."""
    closure: dict[Table, ColumnElement[bool]] = {root: root_rows}
    for table in all_tables():  # parents first, so a table's parents are settled before it is looked at
        if table is root:
            continue
        reasons = [
            key.parent.in_(select(key.column).where(closure[key.column.table]))
            for key in _sorted_keys(table)
            if cascades(key) and key.column.table in closure and key.column.table is not table
        ]
        if reasons:
            closure[table] = or_(*reasons)
    return closure


def shared_rows(
    first: dict[Table, ColumnElement[bool]], second: dict[Table, ColumnElement[bool]], *, roots: set[Table]
) -> list[tuple[Table, ColumnElement[bool]]]:
    """The rows in both closures (e.g. a student's and a class's: the student's membership, their samples in the
    class's data sets), table by table, children before parents, leaving out the `roots` themselves."""
    return [
        (table, and_(first[table], second[table]))
        for table in reversed(all_tables())
        if table in first and table in second and table not in roots
    ]
