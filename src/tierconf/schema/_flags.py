"""The ``flags`` domain: one mapping per feature flag (CONTRACT.md, "Feature flags").

Flag names are free (``ai_recommendation``); each renders as one ConfigMap KEY
``FLAG_<NAME>`` holding the flag's canonical JSON, so a mounted volume round-trips.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from tierconf.schema._fields import DOMAIN_MODEL_CONFIG

FLAG_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
Plan = Literal["free", "pro", "enterprise"]


class FlagDefinition(BaseModel):
    """One feature flag. Evaluation order is in ``tierconf.flags``."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = Field(default=True, description="Kill switch: false turns the flag off for everyone.")
    rollout_percent: float = Field(
        default=100, ge=0, le=100, description="Share of (tenant, user) buckets that get the flag."
    )
    allow_tenants: tuple[str, ...] = Field(default=(), description="Always on for these tenants.")
    deny_tenants: tuple[str, ...] = Field(default=(), description="Always off for these tenants.")
    plans: tuple[Plan, ...] = Field(default=(), description="Only these plans (empty: all plans).")
    description: str = Field(default="", description="What the flag gates.")
    owner: str = Field(default="", description="Team or person accountable for the flag.")
    expires: str = Field(default="", description="ISO date after which the flag should be removed.")

    @field_validator("expires")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        if value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError("expires must be an ISO date YYYY-MM-DD")
        return value


#: Field name -> (python kind, description) used by the loader for flag entries.
FLAG_FIELDS = tuple(FlagDefinition.model_fields)


def flag_key(name: str) -> str:
    """The ConfigMap KEY of a flag: ``ai_recommendation`` -> ``FLAG_AI_RECOMMENDATION``."""
    return "FLAG_" + name.upper()
