"""The operator's process as the image runs it: without the Kubernetes client.

The image installs only the operator's dependencies, and the `kubernetes` client is not one (only the kubectl
plugin uses it). kopf imports that client whenever it is installed, to recognise its objects and borrow its
credentials (about 10 MiB more for the process), so an operator started from a development environment, where the tests
install it, would measure larger than the one users run. Benchmarks start the operator through this module.

    python bench/_image_like.py        (environment as for python -m conductor_operator)
"""

from __future__ import annotations

import sys


def hide_kubernetes_client() -> None:
    """``import kubernetes`` fails from now on in this process, as it does where the client is not installed."""
    sys.modules["kubernetes"] = None  # type: ignore[assignment]


if __name__ == "__main__":
    hide_kubernetes_client()
    from conductor_operator.__main__ import main

    main()
