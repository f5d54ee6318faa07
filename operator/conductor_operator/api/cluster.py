"""ConductorCluster: where a Conductor server is and how to reach it."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from conductor_operator.api.common import Defaulted, Duration, Model, Resource, StatusBase

Flavor = Literal["Auto", "OSS", "Orkes"]


class SecretKeys(Model):
    name: str = Field(min_length=1, description="Secret in the same namespace holding an Orkes application key.")
    key_id_key: str = Field("keyId", description="Key of the Secret whose value is the key id.")
    key_secret_key: str = Field("keySecret", description="Key of the Secret whose value is the key secret.")


class Auth(Model):
    secret_ref: SecretKeys = Field(description="The Secret with the application key the operator gets tokens with.")


class Tls(Model):
    ca_bundle: str | None = Field(None, description="PEM certificates to trust for the server, besides the system's.")
    insecure_skip_verify: bool = Field(False, description="Do not verify the server's certificate (tests only).")


class Timeouts(Model):
    connect: Duration = Field("5s", description="Timeout to open a connection.")
    request: Duration = Field("30s", description="Timeout of one request.")


class ConductorClusterSpec(Model):
    url: str = Field(pattern=r"^https?://", description="Server root, such as http://conductor-server:8080 "
                                                           "(the API is under /api).")
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
