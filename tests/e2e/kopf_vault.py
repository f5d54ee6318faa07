"""kopf's credential vault for the test control plane, for code that calls kopf's API client outside a running
operator (kube.Kube): inside a kopf handler kopf sets it itself."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from unittest import mock

import kopf
from kopf._cogs.clients.auth import vault_var
from kopf._cogs.structs.credentials import Vault
from kopf._core.intents.piggybacking import login_with_kubeconfig


@contextlib.asynccontextmanager
async def kopf_vault(kubeconfig: Path) -> AsyncIterator[kopf.OperatorSettings]:
    """Logged in with this kubeconfig (kopf's own kubeconfig login: the test environment's uses client certificates
    and a CA file, which it reads) for the block; yields the settings kopf's API client takes."""
    settings = kopf.OperatorSettings()
    with mock.patch.dict(os.environ, {"KUBECONFIG": str(kubeconfig)}):
        login = login_with_kubeconfig(settings=settings)
    vault = Vault({"kubeconfig": login})
    token = vault_var.set(vault)
    try:
        yield settings
    finally:
        vault_var.reset(token)
        await vault.close()
