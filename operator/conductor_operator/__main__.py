"""Run the operator: `python -m conductor_operator` (configured by environment variables)."""

from __future__ import annotations

import argparse
import logging
import os

import kopf

from conductor_operator import handlers, metrics, readiness  # noqa: F401  (importing handlers registers them)
from conductor_operator.settings import Settings


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(prog="conductor_operator", description="Run the operator (settings: environment "
                                   "variables, README).")
    args.add_argument("--log-format", choices=("text", "json"), help="overrides LOG_FORMAT")
    options = args.parse_args(argv)
    if options.log_format:
        os.environ["LOG_FORMAT"] = options.log_format
    settings = Settings.from_env()
    metrics.configure_logging(os.environ.get("LOG_LEVEL", "INFO"), settings.log_format)
    try:
        metrics.serve(settings.metrics_port, settings.metrics_address)
    except OSError as exc:  # metrics are not worth stopping the operator for: said, and it goes on without them
        logging.getLogger(__name__).error("metrics are not served: cannot listen on %s:%s: %s",
                                          settings.metrics_address, settings.metrics_port, exc)
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
