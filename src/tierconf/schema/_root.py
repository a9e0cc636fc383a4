"""The root of the typed configuration: one attribute per domain."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from tierconf.schema._application import ApplicationConfig
from tierconf.schema._database import DatabaseConfig
from tierconf.schema._fields import DOMAIN_MODEL_CONFIG
from tierconf.schema._flags import FlagDefinition
from tierconf.schema._ml import MlConfig
from tierconf.schema._monitoring import MonitoringConfig
from tierconf.schema._security import SecurityConfig


class TierConfig(BaseModel):
    """A whole, validated configuration for one tier (and optionally one tenant).

    Instances are immutable snapshots: ``config.database.postgres.pool_size``.
    """

    model_config = DOMAIN_MODEL_CONFIG

    application: ApplicationConfig = Field(default_factory=ApplicationConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    ml: MlConfig = Field(default_factory=MlConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    flags: Mapping[str, FlagDefinition] = Field(default_factory=dict)


#: Domain name -> model class, in rendering order.
DOMAIN_MODELS: Mapping[str, type[BaseModel]] = {
    "application": ApplicationConfig,
    "database": DatabaseConfig,
    "security": SecurityConfig,
    "ml": MlConfig,
    "monitoring": MonitoringConfig,
}
DOMAINS = (*DOMAIN_MODELS, "flags")
