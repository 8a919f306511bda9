"""The shape of a custom field definition, as stored in `agencies.settings -> 'custom_fields'`."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

FieldType = Literal["text", "number", "date", "boolean", "select"]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Option = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class FieldDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: FieldType
    required: bool = False
    label: str | None = Field(default=None, max_length=200, description="How a front end names the field.")
    options: list[Option] | None = Field(
        default=None, min_length=1, max_length=200, description="The allowed values of a `select`."
    )
    max_length: int | None = Field(default=None, ge=1, le=20000, description="For `text` only.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type == "select":
            if not self.options:
                raise ValueError("a select field needs `options`, the values it allows")
            if len(set(self.options)) != len(self.options):
                raise ValueError("the options of a select field must differ from each other")
        elif self.options is not None:
            raise ValueError(f"`options` are for select fields, not {self.type}")
        if self.max_length is not None and self.type != "text":
            raise ValueError(f"`max_length` is for text fields, not {self.type}")
        return self


Definitions = Annotated[dict[FieldName, FieldDefinition], Field(max_length=100)]


class CustomFieldDefinitions(BaseModel):
    """Field name → definition, per entity. Field names: lower-case letters, digits and `_`."""

    model_config = ConfigDict(extra="forbid")

    leads: Definitions = Field(default_factory=dict)
    clients: Definitions = Field(default_factory=dict)
