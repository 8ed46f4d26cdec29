"""A page of a list: `limit` items after skipping `offset`, the same bounds for every list.

Routes take it from `?limit=&offset=` (digitlab.api.paging.PageDep); services apply it to their query
(`page.apply(select(...))`), so a list never loads more rows than it returns.
"""

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.sql.selectable import GenerativeSelect

DEFAULT_LIMIT = 1000
MAX_LIMIT = 1000
# Offsets must fit every database's integer (PostgreSQL refuses >= 2**63, SQLite overflows at 2**63).
MAX_OFFSET = 2**31 - 1

Statement = TypeVar("Statement", bound=GenerativeSelect)


@dataclass(frozen=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def apply(self, statement: Statement) -> Statement:
        """A SQLAlchemy/SQLModel select limited to this page (the caller orders it)."""
        return statement.offset(self.offset).limit(self.limit)


FIRST_PAGE = Page()  # the default: the first DEFAULT_LIMIT items
