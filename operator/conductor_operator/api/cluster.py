"""ConductorCluster: where a Conductor server is and how to reach it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from conductor_operator.api.common import Defaulted, Duration, Model, Resource, StatusBase, parse_duration

Flavor = Literal["Auto", "OSS", "Orkes"]


class SecretKeys(Model):
    name: str = Field(min_length=1, description="Secret in the same namespace holding an Orkes application key.")
    key_id_key: str = Field("keyId", description="Key of the Secret whose value is the key id.")
    key_secret_key: str = Field("keySecret", description="Key of the Secret whose value is the key secret.")


class Auth(Model):
    secret_ref: SecretKeys = Field(description="The Secret with the application key the operator gets tokens with.")


PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
CA_BUNDLE_MESSAGE = (f"spec.tls.caBundle must hold the CA certificates in PEM form, each from {PEM_BEGIN} to "
                     "-----END CERTIFICATE-----")


def _check_ca_bundle(value: str | None) -> str | None:
    if value is not None and PEM_BEGIN not in value:
        raise ValueError(CA_BUNDLE_MESSAGE)
    return value


class Tls(Model):
    ca_bundle: Annotated[str | None, AfterValidator(_check_ca_bundle)] = Field(
        None, max_length=1024 * 1024, description=f"PEM certificates to trust for the server, besides the system's "
                                                  f"({PEM_BEGIN} ...).",
        json_schema_extra={"x-kubernetes-validations": [
            {"rule": f"self.contains('{PEM_BEGIN}')", "message": CA_BUNDLE_MESSAGE}]})
    insecure_skip_verify: bool = Field(False, description="Do not verify the server's certificate (tests only).")


_TIMEOUT_RULES = (("connect", "spec.timeouts.connect must be longer than 0s"),
                  ("request", "spec.timeouts.request must be longer than 0s"))


class Timeouts(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": f"!has(self.{field}) || duration(self.{field}) > duration('0s')", "message": message}
        for field, message in _TIMEOUT_RULES]})

    connect: Duration = Field("5s", description="Timeout to open a connection (longer than 0s).")
    request: Duration = Field("30s", description="Timeout of one request (longer than 0s).")

    @model_validator(mode="after")
    def _positive(self) -> Timeouts:
        refused = [message for field, message in _TIMEOUT_RULES if parse_duration(getattr(self, field)) <= timedelta(0)]
        if refused:
            raise ValueError("; ".join(refused))
        return self


_PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_RULES = (
    (r"self.matches(r'^https?://[^/?#]+')",
     "spec.url must be http:// or https:// and a host, such as http://conductor-server:8080"),
    (r"!self.matches(r'^[^/?#]*//[^/?#]*@')",
     "spec.url must not hold a user or password (user:password@host): Conductor OSS takes none, and an Orkes "
     "application key belongs in a Secret named by spec.auth.secretRef"),
    (rf"!self.matches(r'^[^/?#]*//[^/?#@]*:[0-9]*([/?#].*)?$') || "
     rf"self.matches(r'^[^/?#]*//[^/?#@]*:{_PORT}([/?#].*)?$')",
     "spec.url: the port must be from 1 to 65535 (or left out: 80 for http, 443 for https)"),
    (r"!self.matches(r'[?#]')",
     "spec.url is the server's root: leave out any ?query and #fragment"),
    (r"!self.matches(r'[\s\x00-\x1f\x7f]')",
     "spec.url must not hold spaces or control characters"),
)
"""CEL rules of spec.url, for the API server; ``url_problem`` checks the same in Python."""


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a ConductorCluster's spec.url (None when it can): the rules of URL_RULES, checked by the
    models and by the client too (an object stored before a rule existed must not reach a connection: a port out of
    range made every call raise OverflowError)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return URL_RULES[2][1] if "port" in str(exc).lower() else f"spec.url cannot be read as a URL ({exc})"
    if not url.startswith(("http://", "https://")) or not parts.netloc or not parts.hostname:
        return URL_RULES[0][1]
    if "@" in parts.netloc:
        return URL_RULES[1][1]
    if port == 0 or parts.netloc.endswith(":"):
        return URL_RULES[2][1]
    if "?" in url or "#" in url:
        return URL_RULES[3][1]
    if any(c.isspace() or not c.isprintable() for c in url):
        return URL_RULES[4][1]
    return None


def _check_url(value: str) -> str:
    if problem := url_problem(value):
        raise ValueError(problem)
    return value


class ConductorClusterSpec(Model):
    url: Annotated[str, AfterValidator(_check_url)] = Field(
        max_length=2048, description="Server root, such as http://conductor-server:8080 (the API is under /api); no "
                                     "user or password, query or fragment. The operator may be restricted to some "
                                     "hosts and networks, and refuses link-local and cloud metadata addresses.",
        json_schema_extra={"x-kubernetes-validations": [{"rule": rule, "message": message}
                                                         for rule, message in URL_RULES]})
    flavor: Flavor = Field("Auto", description="OSS or Orkes Conductor; Auto detects it.")
    auth: Auth | None = Field(None, description="Orkes Conductor: the application key to get tokens with.")
    tls: Tls | None = Field(None, description="How to trust an https server.")
    timeouts: Timeouts = Defaulted(Timeouts, "Timeouts of calls to the server.")
    health_check_interval: Duration = Field("1m", description="How often reachability and the server version are "
                                                              "checked.")


class ConductorClusterStatus(StatusBase):
    reachable: bool | None = Field(None, description="Whether the last health check reached the server.")
    server_version: str | None = Field(None, description="The version the server reported.")
    flavor: str | None = Field(None, description="The flavor in use, OSS or Orkes (detected when Auto).")
    last_checked_at: str | None = Field(None, description="When the server was last checked (RFC 3339).")


class ConductorCluster(Resource):
    """A Conductor server (OSS or Orkes) and how to reach it; the other kinds refer to it by name."""

    KIND: ClassVar[str] = "ConductorCluster"
    PLURAL: ClassVar[str] = "conductorclusters"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("ccl",)

    spec: ConductorClusterSpec
    status: ConductorClusterStatus = Field(default_factory=ConductorClusterStatus)
