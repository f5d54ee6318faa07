# The operator image: `python -m conductor_operator` as a non-root user, every Python package pinned
# by constraints.txt. Build from the repository root: docker build -t conductor-operator .

# Build stage: install the package and its pinned dependencies into /install.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --prefix=/install -c constraints.txt .

# Runtime stage: the same Python, the installed packages, no build leftovers, no root.
FROM python:3.11-slim
COPY --from=build /install /usr/local
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /tmp
# 65532 is the conventional "nonroot" id; numeric so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# kopf's liveness endpoint (/healthz).
EXPOSE 8080
ENTRYPOINT ["python", "-m", "conductor_operator"]
