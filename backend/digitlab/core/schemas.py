"""The base of every request body: what a client sends is taken exactly as the schema says, or refused.

An unknown field is an error, not ignored (`{"preset": "cnn"}` once trained an MLP: the field is
`architecture`), and no value is coerced to another type (`"epochs": true` once trained one epoch; `"1"` is
not a number). Only an integer where a number is expected passes, as JSON Schema says it should.
"""

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
