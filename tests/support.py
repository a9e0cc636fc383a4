"""Helpers shared by tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.schema._registry import registry
from tierconf.tiers import EnvironmentTier
from tierconf.tree import bundled_config_dir, load_tree

#: Every secret setting's KEY, in declaration order (DB_PASSWORD ... GRAFANA_ADMIN_PASSWORD).
SECRET_KEYS: tuple[str, ...] = tuple(spec.key for spec in registry().settings if spec.secret)


def copy_bundled_tree(destination: Path) -> Path:
    """A writable copy of the bundled Spotify AI Agent tree."""
    shutil.copytree(bundled_config_dir(), destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def write(path: Path, text: str) -> Path:
    """Write dedented text, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def resolve(
    tree_dir: Path | None = None,
    tier: str = "development",
    tenant: str | None = None,
    sets: tuple[str, ...] = (),
) -> ResolvedConfig:
    """Resolve a tier (and tenant) of a tree (default: bundled)."""
    tree = load_tree(tree_dir)
    return resolve_config(tree, ConfigRequest(EnvironmentTier.parse(tier), tenant, sets=sets))


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tierconf ARGS`` as a subprocess, like a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TIERCONF_SECRET_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tierconf", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
