"""The ``flags`` domain: one mapping per feature flag (CONTRACT.md, "Feature flags").

Flag names are free (``ai_recommendation``); each renders as one ConfigMap KEY
``FLAG_<NAME>`` holding the flag's canonical JSON, so a mounted volume round-trips.

Beyond the contract's boolean fields a flag may be typed and targeted::

    flags:
      home_layout:
        kind: string                 # bool (default) | string | number | json
        variants:                    # served when the flag is on, split by weight
          - {name: grid, value: grid, weight: 50}
          - {name: list, value: list, weight: 50}
          - {name: classic, value: classic}
        default_variant: classic     # served when the flag is off for the context
        constraints:                 # all must hold (Unleash-style), else off
          - {attribute: country, operator: in, values: [SE, NO]}
          - {attribute: app_version, operator: semver_gte, value: 2.3.0}

A boolean flag without ``variants`` has two implicit ones, ``on`` (true, weight 100) and
``off`` (false, the default variant). ``tierconf.flags`` evaluates; the validation rules
check what the schema cannot see alone (weights summing to 100, expiry, tier drift).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from tierconf.schema._fields import DOMAIN_MODEL_CONFIG

FLAG_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
Plan = Literal["free", "pro", "enterprise"]
FlagKind = Literal["bool", "string", "number", "json"]
Operator = Literal[
    "in",
    "not_in",
    "starts_with",
    "ends_with",
    "contains",
    "eq",
    "lt",
    "lte",
    "gt",
    "gte",
    "semver_eq",
    "semver_lt",
    "semver_lte",
    "semver_gt",
    "semver_gte",
    "date_before",
    "date_after",
]
#: Operators that test the attribute against a list (``values``): true when any matches.
LIST_OPERATORS = frozenset({"in", "not_in", "starts_with", "ends_with", "contains"})
NUMBER_OPERATORS = frozenset({"eq", "lt", "lte", "gt", "gte"})
SEMVER_OPERATORS = frozenset({"semver_eq", "semver_lt", "semver_lte", "semver_gt", "semver_gte"})
DATE_OPERATORS = frozenset({"date_before", "date_after"})
#: Fields that exist only for typed or targeted flags; left at their defaults they are not
#: rendered, so the canonical JSON (and the ConfigMap checksum) of a plain flag is unchanged.
TARGETING_FIELDS = ("kind", "variants", "default_variant", "constraints")


def parse_instant(text: str) -> datetime:
    """An ISO date or date-time; naive values are read as UTC midnight / UTC time.

    Raises:
        ValueError: not ISO 8601.
    """
    from datetime import UTC

    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class FlagVariant(BaseModel):
    """One value a flag can serve, and its share of the users who get the flag."""

    model_config = DOMAIN_MODEL_CONFIG

    name: str = Field(pattern=VARIANT_NAME.pattern, description="Variant name reported by evaluation.")
    value: JsonValue = Field(
        description="The value served: bool, string, number or JSON per the flag's kind."
    )
    weight: float = Field(default=0, ge=0, le=100, description="Percent of the flag's on-population.")


class FlagConstraint(BaseModel):
    """One condition on the evaluation context, in the spirit of Unleash constraints.

    ``attribute`` names a context attribute (``tenant``, ``user`` and ``plan`` are always
    there; others come from the caller, e.g. ``country``). List operators (``in``,
    ``not_in``, ``starts_with``, ``ends_with``, ``contains``) compare with ``values`` and hold
    when any value matches (``not_in``: when none does). Number (``eq`` ``lt`` ``lte`` ``gt``
    ``gte``), semver (``semver_*``) and date (``date_before``/``date_after``) operators
    compare with ``value``. A missing attribute fails the constraint (``not_in`` holds).
    ``inverted`` negates the result; ``case_insensitive`` applies to string operators.
    """

    model_config = DOMAIN_MODEL_CONFIG

    attribute: str = Field(min_length=1, max_length=128, description="Context attribute to test.")
    operator: Operator = Field(description="How to compare the attribute.")
    values: tuple[str, ...] = Field(default=(), description="Candidates for list operators.")
    value: str | float | None = Field(default=None, description="Operand of number, semver, date operators.")
    case_insensitive: bool = Field(default=False, description="Compare strings ignoring case.")
    inverted: bool = Field(default=False, description="Negate the result.")

    @field_validator("values")
    @classmethod
    def _values_fit_operator(cls, values: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        op = info.data.get("operator")
        if op in LIST_OPERATORS and not values:
            raise ValueError(f"operator {op} needs at least one entry in 'values'")
        if op is not None and op not in LIST_OPERATORS and values:
            raise ValueError(f"operator {op} takes one operand in 'value', not a list in 'values'")
        return values

    @field_validator("value")
    @classmethod
    def _value_fits_operator(cls, value: str | float | None, info: ValidationInfo) -> str | float | None:
        op = info.data.get("operator")
        if op is None:
            return value
        if op in LIST_OPERATORS:
            if value is not None:
                raise ValueError(f"operator {op} takes a list in 'values', not 'value'")
            return value
        if value is None:
            raise ValueError(f"operator {op} needs 'value'")
        if op in NUMBER_OPERATORS and not isinstance(value, int | float):
            raise ValueError(f"operator {op} compares numbers; 'value' must be a number, got {value!r}")
        if op in SEMVER_OPERATORS and not SEMVER.match(str(value)):
            raise ValueError(f"operator {op} needs a semantic version like 2.3.0, got {value!r}")
        if op in DATE_OPERATORS:
            try:
                parse_instant(str(value))
            except ValueError:
                raise ValueError(f"operator {op} needs an ISO date or date-time, got {value!r}") from None
        return value


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
    kind: FlagKind = Field(
        default="bool", description="Type of the values served: bool, string, number, json."
    )
    variants: tuple[FlagVariant, ...] = Field(
        default=(), description="Values served when on ({name, value, weight}); weights sum to 100."
    )
    default_variant: str = Field(
        default="", description="Variant served when the flag is off for a context (bool: 'off')."
    )
    constraints: tuple[FlagConstraint, ...] = Field(
        default=(),
        description="Conditions on the context ({attribute, operator, values|value}); all must hold.",
    )

    @field_validator("expires")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        if value:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError("expires must be an ISO date YYYY-MM-DD")
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"expires: {value} is not a calendar date") from None
        return value

    @model_validator(mode="after")
    def _variants_fit_kind(self) -> FlagDefinition:
        names = [v.name for v in self.variants]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"variant names must be unique; repeated: {', '.join(duplicates)}")
        for variant in self.variants:
            if not value_fits_kind(variant.value, self.kind):
                raise ValueError(
                    f"variant {variant.name!r} has value {variant.value!r}, which is not a "
                    f"{self.kind} value (kind: {self.kind})"
                )
        if not self.variants:
            if self.kind != "bool":
                raise ValueError(f"a {self.kind} flag needs 'variants' (the values it serves)")
            if self.default_variant not in ("", "off"):
                raise ValueError(
                    "a boolean flag without variants serves 'off' by default; remove default_variant"
                )
        elif self.default_variant not in names:
            expected = ", ".join(names)
            shown = repr(self.default_variant) if self.default_variant else "nothing"
            raise ValueError(f"default_variant must name one of the variants ({expected}), got {shown}")
        return self

    @model_serializer(mode="wrap")
    def _omit_unused_targeting(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in TARGETING_FIELDS:
            if name in data and getattr(self, name) == type(self).model_fields[name].default:
                del data[name]
        return data


def value_fits_kind(value: object, kind: str) -> bool:
    """Whether a variant value is of the flag's kind (json accepts any JSON value)."""
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


#: Field names of a flag definition, in declaration order.
FLAG_FIELDS = tuple(FlagDefinition.model_fields)
#: Flag fields whose value is a list of mappings (read by the loader with pydantic).
STRUCTURED_FLAG_FIELDS: dict[str, type[BaseModel]] = {"variants": FlagVariant, "constraints": FlagConstraint}


def flag_key(name: str) -> str:
    """The ConfigMap KEY of a flag: ``ai_recommendation`` -> ``FLAG_AI_RECOMMENDATION``."""
    return "FLAG_" + name.upper()
