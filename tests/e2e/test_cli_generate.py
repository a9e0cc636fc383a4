"""End to end: the CLI as a user runs it (subprocess), good and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from support import copy_bundled_tree, run_cli, write

pytestmark = pytest.mark.e2e


def assert_clean_error(result, code: int, location: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert result.stderr.startswith("error: ")
    if location is not None:
        assert location in result.stderr, result.stderr


class TestGenerate:
    """`tierconf generate -e development` on the bundled tree."""

    def test_writes_manifests_to_out(self, tmp_path: Path) -> None:
        """ConfigMaps and Secrets land in ./out, Secrets 0600; warnings on stderr."""
        result = run_cli("generate", "-e", "development", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        configmaps = list(yaml.safe_load_all((tmp_path / "out" / "configmaps.yaml").read_text()))
        assert len(configmaps) == 6
        assert (tmp_path / "out" / "secrets.yaml").stat().st_mode & 0o777 == 0o600
        assert "SECRET-GENERATED" in result.stderr

    def test_two_runs_are_byte_identical(self, tmp_path: Path) -> None:
        """Generated development secrets are kept, so output repeats exactly."""
        run_cli("generate", "-e", "dev", cwd=tmp_path)
        first = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
        run_cli("generate", "-e", "dev", cwd=tmp_path)
        assert first == {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}

    def test_stdout_output_masks_secrets(self, tmp_path: Path) -> None:
        """-o - prints manifests with masked Secrets and creates no secret state."""
        run_cli("generate", "-e", "dev", cwd=tmp_path)
        state = (tmp_path / ".tierconf" / "secrets" / "spotify-ai-agent-development.json").read_text()
        values = json.loads(state).values()
        result = run_cli("generate", "-e", "dev", "-o", "-", cwd=tmp_path)
        assert result.returncode == 0 and "kind: Secret" in result.stdout
        for value in values:
            assert value not in result.stdout and value not in result.stderr

    def test_production_without_secrets_fails_cleanly(self, tmp_path: Path) -> None:
        """Production never invents secrets: exit 1, the KEYs named, nothing written."""
        result = run_cli("generate", "-e", "prod", cwd=tmp_path)
        assert_clean_error(result, 1)
        assert "DB_PASSWORD" in result.stderr and not (tmp_path / "out").exists()

    def test_tenant_and_formats(self, tmp_path: Path) -> None:
        """A tenant renders suffixed objects; json, env and volume formats work."""
        assert (
            run_cli(
                "generate", "-e", "stg", "--tenant", "acme", "--secrets", "external", cwd=tmp_path
            ).returncode
            == 0
        )
        text = (tmp_path / "out" / "configmaps.yaml").read_text()
        assert "spotify-ai-agent-config-acme" in text and "ExternalSecret" in text
        for fmt in ("json", "env", "volume"):
            result = run_cli("generate", "-e", "dev", "--format", fmt, "-o", f"out-{fmt}", cwd=tmp_path)
            assert result.returncode == 0, result.stderr

    def test_all_tenants(self, tmp_path: Path) -> None:
        """--all-tenants writes each tenant under out/tenants/<id>/."""
        result = run_cli("generate", "-e", "dev", "--all-tenants", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in (tmp_path / "out" / "tenants").iterdir()) == [
            "acme",
            "globex-music",
            "indie-labs",
        ]


BAD_INPUTS = {
    "duplicate_key": ("database:\n  postgres:\n    pool_size: 5\n    pool_size: 6\n", 4, "duplicate key"),
    "unknown_key": ("database:\n  postgres:\n    pool_sise: 5\n", 3, "did you mean 'pool_size'"),
    "unknown_domain": ("databse:\n  postgres: {}\n", 1, "did you mean 'database'"),
    "wrong_type": ("application:\n  server:\n    max_workers: many\n", 3, "expected an integer"),
    "out_of_bounds": ("application:\n  scaling:\n    cpu_threshold: 250\n", 3, "CPU_THRESHOLD"),
    "tab": ("application:\n\tdebug: true\n", 2, "tab"),
    "syntax": ("application:\n  debug: [true\n  log_level: INFO\n", None, "invalid YAML"),
    "not_mapping": ("- application\n- database\n", 1, "mapping"),
    "python_tag": (
        "application:\n  api_version: !!python/object/apply:os.system ['touch pwned']\n",
        2,
        "tag",
    ),
    "derived": ("application:\n  environment: production\n", 2, "derived"),
    "yaml11_bool": ("application:\n  debug: yes\n", 2, "true or false"),
    "octal": ("application:\n  server:\n    max_workers: 010\n", 3, "leading zero"),
    "nesting": ("application: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nesting"),
    "nul": ("application:\n  debug: tr\x00ue\n", 2, "control"),
}


class TestBadInput:
    """Each bad input: exit 1, file:line, one line per problem, no traceback, nothing written."""

    @pytest.mark.parametrize("case", sorted(BAD_INPUTS))
    def test_bad_layer_file(self, tmp_path: Path, case: str) -> None:
        """The error names the file and line; the previous output is left untouched."""
        text, line, fragment = BAD_INPUTS[case]
        tree = copy_bundled_tree(tmp_path / "tree")
        write(tree / "environments" / "staging.yaml", "")
        (tree / "environments" / "staging.yaml").write_text(text, encoding="utf-8")
        out = tmp_path / "out"
        out.mkdir()
        (out / "configmaps.yaml").write_text("previous\n")
        result = run_cli(
            "generate",
            "-c",
            str(tree),
            "-e",
            "staging",
            "--secrets",
            "external",
            "-o",
            str(out),
            cwd=tmp_path,
        )
        location = f"environments/staging.yaml:{line}" if line else "environments/staging.yaml"
        assert_clean_error(result, 1, location)
        assert fragment in result.stderr
        assert (out / "configmaps.yaml").read_text() == "previous\n"
        assert not (tmp_path / "pwned").exists()

    def test_non_utf8(self, tmp_path: Path) -> None:
        """A Latin-1 file is located by line."""
        tree = copy_bundled_tree(tmp_path / "tree")
        (tree / "environments" / "staging.yaml").write_bytes(b"application:\n  log_level: INFO # caf\xe9\n")
        result = run_cli("validate", "-c", str(tree), "-e", "staging", cwd=tmp_path)
        assert result.returncode == 1 and "staging.yaml:2" in result.stdout + result.stderr

    def test_alias_bomb(self, tmp_path: Path) -> None:
        """An alias bomb fails fast with a clear message."""
        tree = copy_bundled_tree(tmp_path / "tree")
        big = "[" + ", ".join(["t"] * 5000) + "]"
        flags = "".join(f"  f{i}:\n    allow_tenants: *big\n" for i in range(40))
        (tree / "environments" / "staging.yaml").write_text(f"x: &big {big}\nflags:\n{flags}")
        result = run_cli(
            "generate", "-c", str(tree), "-e", "staging", "--secrets", "external", cwd=tmp_path, timeout=30
        )
        assert_clean_error(result, 1, "staging.yaml")

    def test_tenant_guardrail(self, tmp_path: Path) -> None:
        """A tenant setting a non-overridable setting is an error at its line."""
        tree = copy_bundled_tree(tmp_path / "tree")
        write(
            tree / "tenants" / "evil.yaml", "plan: free\ndatabase:\n  postgres:\n    host: attacker.example\n"
        )
        result = run_cli("generate", "-c", str(tree), "-e", "dev", "--tenant", "evil", cwd=tmp_path)
        assert_clean_error(result, 1, "tenants/evil.yaml:4")
        assert "not tenant-overridable" in result.stderr

    @pytest.mark.parametrize(
        "args",
        [
            ("generate", "-e", "qa"),
            ("generate",),
            ("generate", "-e", "dev", "--set", "NOPE=1"),
            ("generate", "-e", "dev", "--tenant", "nobody"),
            ("validate",),
            ("explain", "NOPE", "-e", "dev"),
        ],
    )
    def test_usage_errors_exit_2(self, tmp_path: Path, args: tuple[str, ...]) -> None:
        """Command-line mistakes exit 2 without a traceback."""
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr


class TestOtherCommands:
    """validate, explain, diff, init, schema export."""

    def test_validate_all_bundled(self, tmp_path: Path) -> None:
        """The bundled tree is valid in every tier and tenant."""
        result = run_cli("validate", "--all", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_validate_json_shape(self, tmp_path: Path) -> None:
        """--format json prints the CONTRACT.md object."""
        result = run_cli(
            "validate", "-e", "prod", "--set", "DB_POOL_SIZE=0", "--format", "json", cwd=tmp_path
        )
        document = json.loads(result.stdout)
        assert result.returncode == 1
        assert set(document) == {"valid", "environment", "tenant", "findings"}
        finding = next(f for f in document["findings"] if f["path"] == "database.postgres.pool_size")
        assert set(finding) == {"severity", "code", "path", "key", "message", "file", "line"}
        assert finding["severity"] == "error" and finding["key"] == "DB_POOL_SIZE"

    def test_explain_shows_the_chain(self, tmp_path: Path) -> None:
        """explain DB_POOL_SIZE -e production --tenant acme lists base and tier with file:line."""
        result = run_cli("explain", "DB_POOL_SIZE", "-e", "production", "--tenant", "acme", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "base/database.yaml:" in result.stdout and "environments/production.yaml:" in result.stdout
        assert "<- wins" in result.stdout

    def test_explain_secret_is_masked(self, tmp_path: Path) -> None:
        """A plaintext local password is masked by explain."""
        tree = copy_bundled_tree(tmp_path / "tree")
        write(tree / "environments" / "local.yaml", "database:\n  postgres:\n    password: hunter2-local\n")
        result = run_cli("explain", "DB_PASSWORD", "-c", str(tree), "-e", "local", cwd=tmp_path)
        assert result.returncode == 0 and "hunter2-local" not in result.stdout + result.stderr

    def test_diff_between_tiers(self, tmp_path: Path) -> None:
        """diff -e dev --against prod lists changed KEYs as JSON."""
        result = run_cli("diff", "-e", "dev", "--against", "prod", "--format", "json", cwd=tmp_path)
        changes = {c["key"]: c for c in json.loads(result.stdout)["changes"]}
        assert changes["DEBUG"]["left"] == "true" and changes["DEBUG"]["right"] == "false"
        assert changes["ENVIRONMENT"]["change"] == "changed"

    def test_init_copies_a_valid_tree(self, tmp_path: Path) -> None:
        """init writes a tree that validates."""
        assert run_cli("init", "mytree", cwd=tmp_path).returncode == 0
        assert run_cli("validate", "-c", "mytree", "--all", cwd=tmp_path).returncode == 0
        assert run_cli("init", "mytree", cwd=tmp_path).returncode == 2

    def test_schema_export_validates_the_bundled_files(self, tmp_path: Path) -> None:
        """The exported JSON Schema accepts every bundled layer file and rejects a typo."""
        import jsonschema

        from tierconf.tree import bundled_config_dir

        assert run_cli("schema", "export", "-o", "schema.json", cwd=tmp_path).returncode == 0
        schema = json.loads((tmp_path / "schema.json").read_text())
        validator = jsonschema.Draft202012Validator(schema)
        files = [p for p in bundled_config_dir().rglob("*.yaml") if p.name != "tierconf.yaml"]
        assert len(files) >= 13
        for path in files:
            assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path
        assert list(validator.iter_errors({"database": {"postgres": {"pool_sise": 3}}}))
