"""tierconf: typed, layered, validated configuration for multi-tenant Kubernetes platforms.

Public names are imported on first use (PEP 562), so ``import tierconf`` stays cheap and
the CLI's ``--help`` does not pay for pydantic.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConfigMapManager": "tierconf.facade",
    "ConfigMapUtils": "tierconf.facade",
    "ConfigurationValidator": "tierconf.facade",
    "EnvironmentTier": "tierconf.tiers",
    "TierConfig": "tierconf.schema",
    "SecretRef": "tierconf.schema",
    "ConfigTree": "tierconf.tree",
    "load_tree": "tierconf.tree",
    "ConfigRequest": "tierconf.pipeline",
    "ResolvedConfig": "tierconf.pipeline",
    "resolve_config": "tierconf.pipeline",
    "RenderOptions": "tierconf.render",
    "RenderedSet": "tierconf.render",
    "render": "tierconf.render",
    "SecretOptions": "tierconf.secrets",
    "resolve_secrets": "tierconf.secrets",
    "Finding": "tierconf.findings",
    "ValidationReport": "tierconf.validation",
    "validate": "tierconf.validation",
    "GenerateOptions": "tierconf.generate",
    "generate": "tierconf.generate",
    "TierconfError": "tierconf.errors",
    "ConfigError": "tierconf.errors",
    "SecretError": "tierconf.errors",
    "UsageError": "tierconf.errors",
}

__all__ = [
    "ConfigError",
    "ConfigMapManager",
    "ConfigMapUtils",
    "ConfigRequest",
    "ConfigTree",
    "ConfigurationValidator",
    "EnvironmentTier",
    "Finding",
    "GenerateOptions",
    "RenderOptions",
    "RenderedSet",
    "ResolvedConfig",
    "SecretError",
    "SecretOptions",
    "SecretRef",
    "TierConfig",
    "TierconfError",
    "UsageError",
    "ValidationReport",
    "__version__",
    "generate",
    "load_tree",
    "render",
    "resolve_config",
    "resolve_secrets",
    "validate",
]

if TYPE_CHECKING:
    from tierconf.errors import ConfigError, SecretError, TierconfError, UsageError
    from tierconf.facade import ConfigMapManager, ConfigMapUtils, ConfigurationValidator
    from tierconf.findings import Finding
    from tierconf.generate import GenerateOptions, generate
    from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
    from tierconf.render import RenderedSet, RenderOptions, render
    from tierconf.schema import SecretRef, TierConfig
    from tierconf.secrets import SecretOptions, resolve_secrets
    from tierconf.tiers import EnvironmentTier
    from tierconf.tree import ConfigTree, load_tree
    from tierconf.validation import ValidationReport, validate


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tierconf' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
