# The operator image: `python -m conductor_operator` as a non-root user, every Python package pinned
# by constraints.txt. Build from the repository root: docker build -t conductor-operator .
#
# BASE_IMAGE is the official Python image, pinned by digest. Any Debian-like image with Python 3.11+ and its
# venv module works in its place (--build-arg BASE_IMAGE=...): the test builds one from Debian packages
# (testenv/docker.py) where Docker Hub is out of reach. The packages go into a virtualenv under /opt, the
# one layout that is the same on the official image (/usr/local) and on Debian's own Python (/usr).
ARG BASE_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# Build stage: the package and its pinned dependencies into /opt/venv.
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python3 -m venv /opt/venv
COPY pyproject.toml constraints.txt README.md ./
# The dependencies first, in a layer of their own that a change of the operator's code does not rebuild.
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt -r requirements.txt
COPY operator ./operator
RUN /opt/venv/bin/pip install --no-cache-dir -c constraints.txt .
# pip and setuptools are build tools: they stay out of the final stage.
RUN /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools wheel

# Runtime stage: the same base, the virtualenv, no pip nor build leftovers, no root.
FROM ${BASE_IMAGE}
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /tmp
# 65532 is the conventional "nonroot" id; numeric so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# kopf's liveness endpoint (/healthz) and the operator's readiness endpoint (/readyz).
EXPOSE 8080 8081 8082
ENTRYPOINT ["python", "-m", "conductor_operator"]
