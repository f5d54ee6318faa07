"""Where ConductorClusters may point: CONDUCTOR_URL_ALLOW, link-local and metadata addresses refused by default."""

from __future__ import annotations

import pytest
from conductor_operator.domain.addresses import UrlAllowlist
from conductor_operator.settings import Settings

DEFAULT = UrlAllowlist()


@pytest.mark.parametrize("address", [
    "169.254.169.254", "169.254.0.1", "fe80::1", "fe80::a9fe:a9fe%eth0", "fd00:ec2::254", "100.100.100.200",
    "168.63.129.16", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
])
def test_link_local_and_metadata_addresses_are_refused_by_default(address):
    refusal = DEFAULT.address_refusal("conductor.example", address)
    assert refusal and "CONDUCTOR_URL_ALLOW" in refusal
    assert DEFAULT.host_refusal(address) is not None, "a literal address is refused before any client is built"


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.10", "fd12::1", "8.8.8.8"])
def test_everything_else_is_allowed_by_default(address):
    assert DEFAULT.address_refusal("conductor", address) is None
    assert DEFAULT.host_refusal("conductor.conductor.svc.cluster.local") is None


@pytest.mark.parametrize("host", ["metadata.google.internal", "METADATA.google.internal.", "metadata",
                                  "instance-data.ec2.internal"])
def test_metadata_names_are_refused_by_default(host):
    assert "metadata service" in DEFAULT.host_refusal(host)


def test_an_allowlist_restricts_hosts_and_networks():
    allow = UrlAllowlist.parse("10.0.0.0/8, *.svc.cluster.local,conductor.example.com")
    assert allow.host_refusal("conductor.team-a.svc.cluster.local") is None
    assert allow.host_refusal("conductor.example.com") is None
    assert allow.host_refusal("evil.example.org") is None, "a name may still resolve into 10.0.0.0/8"
    assert allow.address_refusal("evil.example.org", "10.3.4.5") is None
    assert "not among" in allow.address_refusal("evil.example.org", "192.168.1.1")
    assert "not among" in allow.host_refusal("192.168.1.1")
    assert allow.address_refusal("conductor.example.com", "203.0.113.7") is None, "a named host may be anywhere..."
    assert "link-local" in allow.address_refusal("conductor.example.com", "169.254.169.254"), \
        "...but never on a metadata address: the address decides"

    names_only = UrlAllowlist.parse("*.svc.cluster.local")
    assert "not among" in names_only.host_refusal("conductor.example.com"), "refused before any connection"


def test_only_an_explicit_entry_lets_a_refused_address_or_name_through():
    allow = UrlAllowlist.parse("*,169.254.10.0/24,metadata")
    assert allow.address_refusal("x", "169.254.10.7") is None
    assert allow.address_refusal("x", "169.254.169.254") is not None
    assert allow.host_refusal("metadata") is None
    assert allow.host_refusal("metadata.google.internal") is not None


@pytest.mark.parametrize("text", ["10.0.0.0/33", "conductor:8080", "http://conductor", "a b/c", "fe80::/200"])
def test_a_bad_entry_is_named(text):
    with pytest.raises(ValueError, match="is n"):
        UrlAllowlist.parse(text)


def test_the_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CONDUCTOR_URL_ALLOW", "10.0.0.0/8,*.svc.cluster.local")
    settings = Settings.from_env()
    assert settings.url_allow.host_refusal("x.svc.cluster.local") is None
    assert settings.url_allow.address_refusal("x", "192.168.0.1") is not None

    monkeypatch.setenv("CONDUCTOR_URL_ALLOW", "")
    assert Settings.from_env().url_allow == UrlAllowlist()

    monkeypatch.setenv("CONDUCTOR_URL_ALLOW", "10.0.0.0/33")
    with pytest.raises(SystemExit, match="CONDUCTOR_URL_ALLOW"):
        Settings.from_env()
