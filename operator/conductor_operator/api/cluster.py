"""ConductorCluster: where a Conductor server is and how to reach it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from conductor_operator.api.common import Defaulted, Duration, Model, StatusBase


class SecretKeyRef(Model):
    name: str = Field(description="Secret in the same namespace holding an Orkes application key.")
    key_id_key: str = Field("keyId", description="Key of the Secret holding the key id.")
    key_secret_key: str = Field("keySecret", description="Key of the Secret holding the key secret.")


class Auth(Model):
    secret_ref: SecretKeyRef


class Tls(Model):
    ca_bundle: str | None = Field(None, description="PEM certificates to trust for the server.")
    insecure_skip_verify: bool = Field(False, description="Do not verify the server's certificate (tests only).")


class Timeouts(Model):
    connect: str = Duration("5s", "Connection timeout.")
    request: str = Duration("30s", "Timeout of one request.")


class ConductorClusterSpec(Model):
    url: str = Field(min_length=1, description="Server root, such as http://conductor-server:8080.")
    flavor: Literal["Auto", "OSS", "Orkes"] = Field("Auto", description="Detected when Auto.")
    auth: Auth | None = Field(None, description="Orkes Conductor: the application key to get tokens with.")
    tls: Tls | None = None
    timeouts: Timeouts = Defaulted(Timeouts)
    health_check_interval: str = Duration("1m", "How often reachability and the server version are checked.")


class ConductorClusterStatus(StatusBase):
    reachable: bool | None = None
    server_version: str | None = None
    flavor: str | None = None
    last_checked_at: str | None = None


class ConductorCluster(Model):
    spec: ConductorClusterSpec
    status: ConductorClusterStatus | None = None
