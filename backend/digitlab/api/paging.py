"""`?limit=&offset=` for list routes through one dependency: `page: PageDep`, handed to the service."""

from typing import Annotated

from fastapi import Depends, Query

from digitlab.core.paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, Page


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many items")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many items first")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]
