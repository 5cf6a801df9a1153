"""The base of every section of the configuration file: unknown keys refused, values frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A table of the TOML file (or a value inside one): `extra = "forbid"` makes a misspelt key an
    error naming it, `frozen` keeps the settings the engine started with."""

    model_config = ConfigDict(extra="forbid", frozen=True)
