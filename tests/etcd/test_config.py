"""etcd URLs: endpoints, TLS, credentials and options, parsed without a server."""

from __future__ import annotations

import pytest

import tierconf.etcd
from tierconf.errors import UsageError
from tierconf.etcd import EtcdConfig


class TestEndpoints:
    def test_several_endpoints_in_order(self) -> None:
        """etcd://h1:p1,h2:p2 lists the members in the order given, over HTTP."""
        config = EtcdConfig.from_url("etcd://10.0.0.1:2379,10.0.0.2:22379")
        assert config.endpoints == ("http://10.0.0.1:2379", "http://10.0.0.2:22379")
        assert not config.tls

    def test_http_url_as_the_runtime_contract_spells_it(self) -> None:
        """http://HOST:PORT is accepted, as is etcdctl's comma list of full URLs."""
        assert EtcdConfig.from_url("http://127.0.0.1:2379").endpoints == ("http://127.0.0.1:2379",)
        both = EtcdConfig.from_url("http://a:1,http://b:2")
        assert both.endpoints == ("http://a:1", "http://b:2")

    def test_default_port(self) -> None:
        """A host without a port gets 2379."""
        assert EtcdConfig.from_url("etcd://etcd.internal").endpoints == ("http://etcd.internal:2379",)

    def test_bad_port(self) -> None:
        """A port that is not a number is a UsageError showing the accepted forms."""
        with pytest.raises(UsageError, match="HOST:PORT"):
            EtcdConfig.from_url("etcd://host:abc")


class TestTls:
    def test_etcds_and_certificates(self) -> None:
        """etcds:// speaks TLS; ca, cert and key are taken from the query string."""
        config = EtcdConfig.from_url("etcds://h:2379?ca=/ca.pem&cert=/c.pem&key=/c.key")
        assert (config.tls, config.ca, config.cert, config.key) == (True, "/ca.pem", "/c.pem", "/c.key")
        assert config.endpoints == ("https://h:2379",)

    def test_certificate_options_imply_tls(self) -> None:
        """Giving a CA on an etcd:// URL switches to HTTPS rather than sending it in clear."""
        assert EtcdConfig.from_url("etcd://h:2379?ca=/ca.pem").tls

    def test_cert_without_key(self) -> None:
        """A client certificate needs its key."""
        with pytest.raises(UsageError, match="both cert= and key="):
            EtcdConfig.from_url("etcds://h:2379?cert=/c.pem")


class TestCredentials:
    def test_password_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """?user=&password_env=VAR reads the password from VAR, and never shows it."""
        monkeypatch.setenv("MY_ETCD_PW", "s3cret-value")
        config = EtcdConfig.from_url("etcd://h:1?user=root&password_env=MY_ETCD_PW")
        assert (config.user, config.password) == ("root", "s3cret-value")
        assert "s3cret-value" not in repr(config) and "s3cret-value" not in config.name

    def test_user_info(self) -> None:
        """user:password@ in the URL works too (percent-decoded)."""
        config = EtcdConfig.from_url("etcd://ro%40t:p%3Aw@h:1")
        assert (config.user, config.password) == ("ro@t", "p:w")

    def test_user_without_password(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A user without any password source is refused, naming TIERCONF_ETCD_PASSWORD."""
        monkeypatch.delenv("TIERCONF_ETCD_PASSWORD", raising=False)
        with pytest.raises(UsageError, match="TIERCONF_ETCD_PASSWORD"):
            EtcdConfig.from_url("etcd://h:1?user=root")

    def test_password_is_masked_in_errors(self) -> None:
        """A malformed URL's message masks the password it holds."""
        with pytest.raises(UsageError) as caught:
            EtcdConfig.from_url("etcd://root:hunter2@h:1?bogus=1")
        assert "hunter2" not in str(caught.value)


class TestOptions:
    def test_prefix_app_timeout(self) -> None:
        """prefix, app and timeout are options; the failover deadline scales with the timeout."""
        config = EtcdConfig.from_url("etcd://h:1?prefix=/cfg/&app=shop&timeout=2")
        assert (config.prefix, config.app, config.timeout, config.deadline) == ("/cfg", "shop", 2.0, 12.0)

    def test_unknown_option(self) -> None:
        """A misspelt option is an error, not silently ignored."""
        with pytest.raises(UsageError, match="unknown option 'cafile'"):
            EtcdConfig.from_url("etcds://h:1?cafile=/x")

    def test_path_is_refused(self) -> None:
        """A path after the hosts is refused with the ?prefix= hint."""
        with pytest.raises(UsageError, match=r"\?prefix="):
            EtcdConfig.from_url("etcd://h:1/tierconf")


class TestPublicApi:
    def test_all_is_exact(self) -> None:
        """tierconf.etcd exports exactly its documented names, all importable."""
        assert sorted(tierconf.etcd.__all__) == [
            "AppKeys",
            "EtcdClient",
            "EtcdConfig",
            "EtcdRevisionStore",
            "EtcdTarget",
            "EtcdWatcher",
            "LiveKeys",
            "Manifest",
            "WatcherStats",
        ]
        for name in tierconf.etcd.__all__:
            assert hasattr(tierconf.etcd, name)
