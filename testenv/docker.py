"""A Docker engine of the test's own, and a Python base image made from Debian packages (no registry).

The machines that test the project reach package registries only, never Docker Hub. ``DockerEngine`` starts
Debian's dockerd with no bridge and no iptables rules (containers use ``--network host``), on a socket of its own,
and stops it afterwards. Its data root is kept in the cache (``docker/``, one engine at a time through a lock),
so a later run reuses the base image and the layers of the last build.

``local_base_image`` makes the image the Dockerfile's ``BASE_IMAGE`` argument can take instead of the official
Python image: a Debian rootfs with python3 made by ``mmdebstrap`` (cached as a tarball per Debian suite), imported
with ``docker import``, plus this machine's CA bundle (pip inside the build must trust what this machine trusts).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from testenv.servers import Server
from testenv.tools import TestEnvError, cache_dir

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
"""Python 3.11 (bookworm) and its venv module, which the Dockerfile builds its virtualenv with."""
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SLIM = ("path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright", "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/info/*", "path-exclude=/usr/share/locale/*", "path-exclude=/usr/share/lintian/*")
"""dpkg never writes documentation, manual pages or translations into the rootfs (licences stay), as the official
slim images do: about 45 MiB less."""
MERGED_USR_HOOK = "/usr/share/mmdebstrap/hooks/merged-usr"
"""Merged /usr set up by symlinks, as debootstrap does, instead of the usrmerge package and the perl it needs
(about 25 MiB)."""


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def docker_cli() -> Path:
    """Debian's docker client (of the same release as its dockerd) when there is one, else any on PATH."""
    for candidate in (Path("/usr/bin/docker"), Path(shutil.which("docker") or "/nonexistent")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise TestEnvError("no docker client: install Debian's docker.io (hack/bootstrap.sh --for-tests does)")


def host_ca_bundle() -> Path:
    """The CA bundle this machine's TLS clients use (pip's PIP_CERT first: it is what pip must trust)."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"),
                      ssl.get_default_verify_paths().cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise TestEnvError("no CA bundle found on this machine to give the image's pip")


def base_rootfs(suite: str = DEBIAN_SUITE) -> Path:
    """A Debian ``suite`` rootfs tarball with python3, made once by mmdebstrap and kept in the cache."""
    folder = cache_dir() / "base"
    folder.mkdir(parents=True, exist_ok=True)
    recipe = hashlib.sha256(repr((DEBIAN_MIRROR, BASE_PACKAGES, SLIM, MERGED_USR_HOOK)).encode()).hexdigest()[:10]
    tarball = folder / f"debian-{suite}-python3-{recipe}.tar"
    with _locked(folder / f"{suite}.lock", timeout=900, what=f"the {suite} rootfs"):
        if tarball.is_file() and tarball.stat().st_size > 0:
            return tarball
        mmdebstrap = shutil.which("mmdebstrap")
        if not mmdebstrap:
            raise TestEnvError("mmdebstrap is not installed (hack/bootstrap.sh --for-tests installs it)")
        partial = tarball.with_suffix(".partial.tar")
        partial.unlink(missing_ok=True)
        result = subprocess.run([mmdebstrap, "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                                 *(f"--dpkgopt={option}" for option in SLIM), f"--hook-dir={MERGED_USR_HOOK}",
                                 "--mode=root", "--quiet", suite, str(partial), DEBIAN_MIRROR],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0 or not partial.is_file():
            partial.unlink(missing_ok=True)
            raise TestEnvError(f"mmdebstrap {suite} failed ({result.returncode}):\n{_tail(result.stderr)}")
        partial.rename(tarball)
    return tarball


@contextlib.contextmanager
def _locked(path: Path, timeout: float, what: str) -> Iterator[None]:
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TestEnvError(f"{what} stayed locked by another process for {timeout:.0f}s ({path})") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class DockerEngine:
    """dockerd on a socket of its own; ``run`` calls the docker client against it."""

    def __init__(self, data_root: Path | None = None):
        self.data_root = data_root or cache_dir() / "docker" / "data"
        # containerd's sockets live in the exec root: keep its path short (unix sockets allow ~100 bytes).
        self.exec_root = Path(tempfile.mkdtemp(prefix="co-dockerd-", dir="/tmp"))
        self.socket = self.exec_root / "docker.sock"
        self.cli = docker_cli()
        self.server: Server | None = None
        self._lock: contextlib.ExitStack | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_BUILDKIT": "0"}

    def start(self, timeout: float = 120) -> DockerEngine:
        dockerd = shutil.which("dockerd")
        if not dockerd:
            raise TestEnvError("dockerd is not installed (Debian's docker.io: hack/bootstrap.sh --for-tests "
                               "installs it)")
        if os.geteuid() != 0:
            raise TestEnvError("dockerd needs root here (rootless Docker is not set up)")
        self.data_root.mkdir(parents=True, exist_ok=True)
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(_locked(self.data_root.parent / "engine.lock", timeout=600,
                                         what="the Docker data root"))
        self.server = Server("dockerd", [
            dockerd, f"--data-root={self.data_root}", f"--exec-root={self.exec_root}",
            f"--pidfile={self.exec_root / 'dockerd.pid'}", f"--host=unix://{self.socket}",
            # No docker0 bridge, no iptables rules, no NAT: containers share the host's network.
            "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
            "--log-level=warn",
        ], self.exec_root / "dockerd.log", self.exec_root)
        try:
            self.server.start()
            self.server.wait_ready(lambda: self.run("version", check=False).returncode == 0, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def run(self, *args: str, check: bool = True, timeout: float = 1800,
            input: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([str(self.cli), *args], capture_output=True, text=True, env=self.env,
                                timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise TestEnvError(f"docker {' '.join(args[:3])} ... failed ({result.returncode}):\n"
                               f"{_tail(result.stdout, 15)}\n{_tail(result.stderr)}")
        return result

    def image_exists(self, reference: str) -> bool:
        return self.run("image", "inspect", reference, check=False).returncode == 0

    def image_size(self, reference: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", reference).stdout.strip())

    def stop(self) -> None:
        """Stop every container this engine runs, then dockerd (and its containerd) by its process group."""
        try:
            if self.server and self.server.process and self.server.process.poll() is None:
                running = self.run("ps", "-q", check=False, timeout=60).stdout.split()
                if running:
                    self.run("rm", "--force", *running, check=False, timeout=120)
                self.server.stop(timeout=30)
        finally:
            if self._lock:
                self._lock.close()
                self._lock = None
            self._unmount_exec_root()
            shutil.rmtree(self.exec_root, ignore_errors=True)

    def _unmount_exec_root(self) -> None:
        """dockerd leaves a bind mount of the host's network namespace (netns/default) in its exec root."""
        with contextlib.suppress(OSError):
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
            for mount in sorted((m for m in mounts if m.startswith(f"{self.exec_root}/")), reverse=True):
                subprocess.run(["umount", "--lazy", mount], capture_output=True, check=False)

    def log_tail(self) -> str:
        return self.server.log_tail() if self.server else "(dockerd not started)"

    def __enter__(self) -> DockerEngine:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def local_base_image(engine: DockerEngine, suite: str = DEBIAN_SUITE) -> str:
    """A Python base image from Debian packages in ``engine`` (made once; a new rootfs or CA bundle makes anew)."""
    tarball = base_rootfs(suite)
    ca_bundle = host_ca_bundle()
    digest = hashlib.sha256()
    digest.update(f"{tarball.name}:{tarball.stat().st_size}:{tarball.stat().st_mtime_ns}".encode())
    digest.update(ca_bundle.read_bytes())
    reference = f"conductor-operator-base:{suite}-{digest.hexdigest()[:12]}"
    if engine.image_exists(reference):
        return reference
    imported = f"conductor-operator-debian:{suite}"
    engine.run("import", "--change", f"ENV PATH={IMAGE_PATH}", "--change", 'CMD ["python3"]',
               str(tarball), imported)
    with tempfile.TemporaryDirectory(prefix="base-image-") as context:
        shutil.copyfile(ca_bundle, Path(context) / "ca-certificates.crt")
        (Path(context) / "Dockerfile").write_text(
            f"FROM {imported}\n"
            "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
            "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\n")
        engine.run("build", "--network", "host", "--tag", reference, context)
    return reference


def build_image(engine: DockerEngine, context: Path, tag: str, base_image: str | None = None) -> str:
    """``docker build`` the repository's Dockerfile (with the given BASE_IMAGE, else the Dockerfile's default)."""
    args = ["build", "--network", "host", "--tag", tag]
    if base_image:
        args += ["--build-arg", f"BASE_IMAGE={base_image}"]
    engine.run(*args, str(context))
    return tag
