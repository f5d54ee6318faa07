"""Run the operator: `python -m conductor_operator` (configured by environment variables)."""

from __future__ import annotations

import logging
import os

import kopf

from conductor_operator import handlers, readiness  # noqa: F401  (importing handlers registers them with kopf)
from conductor_operator.settings import Settings


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    # Ready once kopf has listed every served kind (READINESS_ENDPOINT serves it; kopf's /healthz is liveness).
    readiness.register(readiness.Readiness(namespaces=tuple(settings.namespaces)),
                       readiness.endpoint_from_env())
    kopf.run(
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=settings.peering is None,
        peering_name=settings.peering,
        identity=settings.identity,
        liveness_endpoint=settings.liveness_endpoint,
    )


if __name__ == "__main__":
    main()
