"""Run the operator: `python -m conductor_operator` (configured by environment variables)."""

from __future__ import annotations

import logging
import os

import kopf

from conductor_operator import handlers  # noqa: F401  (registers the handlers with kopf)
from conductor_operator.settings import Settings


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    kopf.run(
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=settings.peering is None,
        peering_name=settings.peering,
        liveness_endpoint=os.environ.get("LIVENESS_ENDPOINT", "http://0.0.0.0:8080/healthz"),
    )


if __name__ == "__main__":
    main()
