"""The typed schema: domain models, the settings registry, secret references."""

from tierconf.schema._fields import SettingMeta, group, setting
from tierconf.schema._flags import FlagDefinition, flag_key
from tierconf.schema._registry import LeafType, Registry, SettingSpec, registry
from tierconf.schema._root import DOMAIN_MODELS, DOMAINS, TierConfig
from tierconf.schema._secret_ref import MASK, SecretRef

__all__ = [
    "DOMAINS",
    "DOMAIN_MODELS",
    "MASK",
    "FlagDefinition",
    "LeafType",
    "Registry",
    "SecretRef",
    "SettingMeta",
    "SettingSpec",
    "TierConfig",
    "flag_key",
    "group",
    "registry",
    "setting",
]
