from typing import Annotated

from pydantic import BaseModel, Field

from digitlab.auth.schemas import MAX_PASSWORD_LENGTH
from digitlab.core.schemas import RequestBody
from digitlab.core.text import SafeStr


class PasswordConfirmation(RequestBody):
    password: Annotated[SafeStr, Field(max_length=MAX_PASSWORD_LENGTH)] = Field(
        description="Your own password again: deleting cannot be undone"
    )


class StudentDataDeleted(BaseModel):
    account_deleted: bool = Field(
        description="true: the account was made for this class and is deleted with all its data; false: the "
        "student registered themselves, was removed from the class with their class data, and keeps their "
        "account and own projects"
    )
