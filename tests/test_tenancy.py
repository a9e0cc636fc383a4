"""--all-tenants at scale: delta rendering, the YAML fast path, workers, staged output."""

from __future__ import annotations

import filecmp
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import copy_bundled_tree, write
from tierconf import tenancy
from tierconf.errors import InvalidConfigurationError
from tierconf.generate import GenerateOptions, generate, secrets_for
from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.render import OutputFormat, RenderOptions, render, to_yaml
from tierconf.render._manifests import SecretsMode
from tierconf.tenancy import TenantRenderer, YamlWriter, map_tenants, tenant_entries, validate_tenants
from tierconf.tiers import EnvironmentTier
from tierconf.tree import LayerReader, load_tree

SYNTHETIC = """
plan: {plan}
application:
  cors:
    allowed_origins: [https://{name}.example.com]
  uploads:
    max_file_size_mb: {size}
security:
  rate_limit:
    requests: {requests}
"""


def synthetic_tree(tmp_path: Path, count: int) -> Path:
    """The bundled tree plus ``count`` generated tenants t0000, t0001..."""
    tree = copy_bundled_tree(tmp_path / "tree")
    plans = ("free", "pro", "enterprise")
    for i in range(count):
        name = f"t{i:04d}"
        text = SYNTHETIC.format(plan=plans[i % 3], name=name, size=5 + i % 40, requests=100 + i)
        (tree / "tenants" / f"{name}.yaml").write_text(text)
    return tree


class TestTenantRenderer:
    """Rendering a tenant as a delta of the tier equals rendering it from scratch."""

    @pytest.mark.parametrize("tier", ["local", "development", "staging", "production"])
    @pytest.mark.parametrize(
        "options",
        [
            RenderOptions(secrets="external"),
            RenderOptions(immutable=True, secrets="external"),
            RenderOptions(namespace="custom", secrets="external"),
        ],
    )
    def test_equals_full_render(self, tmp_path: Path, tier: str, options: RenderOptions) -> None:
        """Every bundled and synthetic tenant renders exactly as render() does."""
        tree = load_tree(synthetic_tree(tmp_path, 6))
        reader = LayerReader(tree)
        shared = resolve_config(tree, ConfigRequest(EnvironmentTier.parse(tier)), reader)
        secrets = secrets_for(shared, GenerateOptions(secrets_mode="external"))
        renderer = TenantRenderer(shared, render(shared, secrets, options), options)
        for tenant in tree.tenants():
            resolved = resolve_config(tree, replace(shared.request, tenant=tenant), reader)
            fast = renderer.render(resolved, tenant_entries(tree, tenant, reader))
            assert fast == render(resolved, secrets, options), tenant


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
awkward = st.sampled_from(
    [
        "",
        "true",
        "no",
        "1.10",
        "010",
        "null",
        "~",
        "- a",
        "a: b",
        "#x",
        " lead",
        "trail ",
        "'q'",
        '"dq"',
        "@x",
        "*",
        "&a",
        "é ü",
        "line\nbreak",
        "tab\tx",
        "{}",
        "[1]",
        "%x",
        "`x",
        "? x",
        "0x1F",
        "1e3",
        ".inf",
        "=",
        "<<",
    ]
)


class TestYamlWriter:
    """The YAML fast path writes exactly what to_yaml writes."""

    @settings(max_examples=200, deadline=None)
    @given(data=st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True), printable | awkward))
    def test_configmap_data(self, data: dict[str, str]) -> None:
        """Any data mapping (quoting, escapes, line breaks) comes out byte for byte."""
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {"a": "b"}},
            "data": data,
        }
        writer = YamlWriter()
        assert writer.dump([manifest, manifest]) == to_yaml([manifest, manifest])

    @settings(max_examples=500, deadline=None)
    @given(st.text(alphabet="abeEnNoOyYtTzZ019_./,-: x#", min_size=1, max_size=12))
    def test_plain_scalars(self, value: str) -> None:
        """Strings the writer spells without asking the emitter are spelled as the emitter does."""
        emitted = to_yaml([{"k": value}])
        if emitted.count("\n") == 2:  # single-line scalars: the ones the writer handles itself
            assert YamlWriter()._scalar(value) == emitted[len("---\nk: ") : -1]

    def test_rendered_sets(self) -> None:
        """ConfigMaps, Secrets and ExternalSecrets of the bundled tiers come out byte for byte."""
        tree = load_tree()
        writer = YamlWriter()
        modes: tuple[SecretsMode, ...] = ("inline", "external")
        for tier in ("development", "production"):
            for mode in modes:
                resolved = resolve_config(tree, ConfigRequest(EnvironmentTier.parse(tier), "acme"))
                secrets = secrets_for(resolved, GenerateOptions(secrets_mode=mode, output=None))
                rendered = render(resolved, secrets, RenderOptions(secrets=mode))
                manifests = [o.manifest for o in rendered.objects]
                assert writer.dump(manifests) == to_yaml(manifests)


def _square(chunk: Sequence[str]) -> list[str]:
    return [t * 2 for t in chunk]


class TestMapTenants:
    """Chunks run on forked workers when there are enough tenants, results in order."""

    def test_parallel_equals_serial(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Forked workers give the chunks' results in tenant order, with progress."""
        monkeypatch.setattr(tenancy, "CHUNK", 7)
        monkeypatch.setattr(tenancy, "PARALLEL_MIN_TENANTS", 10)
        tenants = [f"t{i}" for i in range(100)]
        done: list[int] = []
        parallel = [
            x for chunk in map_tenants(tenants, _square, workers=2, progress=done.append) for x in chunk
        ]
        serial = [x for chunk in map_tenants(tenants, _square, workers=1) for x in chunk]
        assert parallel == serial == [t * 2 for t in tenants]
        assert sum(done) == 100


class TestGenerateAllTenants:
    """generate --all-tenants: same files as one tenant at a time, staged, all or nothing."""

    def test_same_files_as_tenant_by_tenant(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Parallel delta rendering writes what per-tenant generate writes, byte for byte."""
        monkeypatch.setattr(tenancy, "PARALLEL_MIN_TENANTS", 10)
        monkeypatch.setattr(tenancy, "CHUNK", 8)
        tree = load_tree(synthetic_tree(tmp_path, 30))
        request = ConfigRequest(EnvironmentTier.DEVELOPMENT)
        options = GenerateOptions(
            output=tmp_path / "all", all_tenants=True, workers=2, state_dir=tmp_path / "state"
        )
        result = generate(tree, request, options)
        assert "33 tenants, 6 ConfigMaps, 3 Secrets each" in result.summary[-1]
        for tenant in tree.tenants():
            single = GenerateOptions(output=tmp_path / "one" / tenant, state_dir=tmp_path / "state")
            generate(tree, replace(request, tenant=tenant), single)
            for name in ("configmaps.yaml", "secrets.yaml"):
                assert filecmp.cmp(
                    tmp_path / "all" / "tenants" / tenant / name,
                    tmp_path / "one" / tenant / name,
                    shallow=False,
                )
        secret_file = tmp_path / "all" / "tenants" / "acme" / "secrets.yaml"
        assert secret_file.stat().st_mode & 0o777 == 0o600

    @pytest.mark.parametrize("fmt", ["json", "env", "volume"])
    def test_other_formats(self, tmp_path: Path, fmt: OutputFormat) -> None:
        """json, env and volume write one directory per tenant too."""
        tree = load_tree()
        options = GenerateOptions(
            fmt=fmt, output=tmp_path / "out", all_tenants=True, state_dir=tmp_path / "s"
        )
        generate(tree, ConfigRequest(EnvironmentTier.DEVELOPMENT), options)
        assert sorted(p.name for p in (tmp_path / "out" / "tenants").iterdir()) == [
            "acme",
            "globex-music",
            "indie-labs",
        ]

    def test_bad_tenant_keeps_previous_output(self, tmp_path: Path) -> None:
        """A tenant error writes nothing: the previous tenants/ tree and no staging left."""
        root = synthetic_tree(tmp_path, 3)
        options = GenerateOptions(output=tmp_path / "out", all_tenants=True, secrets_mode="external")
        generate(load_tree(root), ConfigRequest(EnvironmentTier.STAGING), options)
        before = sorted(p.name for p in (tmp_path / "out" / "tenants").iterdir())
        write(root / "tenants" / "broken.yaml", "plan: gold\n")
        with pytest.raises(InvalidConfigurationError) as info:
            generate(load_tree(root), ConfigRequest(EnvironmentTier.STAGING), options)
        assert "broken.yaml:1" in str(info.value.problems[0])
        assert sorted(p.name for p in (tmp_path / "out" / "tenants").iterdir()) == before
        assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []

    def test_rerun_drops_removed_tenants(self, tmp_path: Path) -> None:
        """The tenants/ tree is replaced as a whole: a deleted tenant file leaves no output."""
        root = synthetic_tree(tmp_path, 2)
        options = GenerateOptions(output=tmp_path / "out", all_tenants=True, secrets_mode="external")
        generate(load_tree(root), ConfigRequest(EnvironmentTier.PRODUCTION), options)
        (root / "tenants" / "t0001.yaml").unlink()
        generate(load_tree(root), ConfigRequest(EnvironmentTier.PRODUCTION), options)
        assert "t0001" not in {p.name for p in (tmp_path / "out" / "tenants").iterdir()}


class TestValidateTenants:
    """validate_tenants: one report per tenant, in order, shared layers parsed once."""

    def test_reports_in_order(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every tenant gets a report; a broken one is invalid with file:line."""
        monkeypatch.setattr(tenancy, "PARALLEL_MIN_TENANTS", 10)
        monkeypatch.setattr(tenancy, "CHUNK", 5)
        root = synthetic_tree(tmp_path, 20)
        write(root / "tenants" / "t0007.yaml", "plan: pro\nmonitoring:\n  logging:\n    format: text\n")
        tree = load_tree(root)
        reports = validate_tenants(tree, ConfigRequest(EnvironmentTier.STAGING), workers=2)
        assert [r.tenant for r in reports] == list(tree.tenants())
        (bad,) = [r for r in reports if not r.valid]
        assert bad.tenant == "t0007"
        assert any(f.file and f.file.endswith("tenants/t0007.yaml") and f.line == 4 for f in bad.findings)
