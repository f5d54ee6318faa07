"""`kubectl conductor import`: manifests for the definitions a Conductor server already holds, which the operator
adopts when they are applied (nothing registered again, nothing changed in Conductor).

What is read and how it becomes manifests is domain.adoption's; this module reads the server, checks the input,
writes the files and says what it did. No secret value is written unless --write-secret asks for it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import re
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from conductor_operator.api.cluster import PEM_BEGIN, url_problem
from conductor_operator.api.common import DEFAULT_CLUSTER
from conductor_operator.cli.common import PROGRAM, BadInput, Command
from conductor_operator.conductor.client import ConductorClient, Flavor, display_url
from conductor_operator.conductor.errors import (
    ConductorError,
    NotConductor,
    Unauthorized,
    Unavailable,
)
from conductor_operator.domain.adoption import (
    Adoption,
    BadPattern,
    adopt,
    check_patterns,
    cluster_manifest,
    matches,
)

KEY_ID_ENV = "CONDUCTOR_AUTH_KEY"
KEY_SECRET_ENV = "CONDUCTOR_AUTH_SECRET"
"""The environment variables Orkes' SDKs read the application key from."""

KUBERNETES_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?")

_HEADER = ("# Written by `kubectl conductor import` from {server}.\n"
           "# Applying it adopts what Conductor holds: the operator registers nothing while the content matches.\n")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", required=True, metavar="URL",
                        help="the Conductor server to read, such as http://localhost:8080 (its root; the API is "
                             "under /api)")
    parser.add_argument("--name", metavar="PATTERN", action="append", default=[], dest="patterns",
                        help="import only the workflows whose names match this glob (*, ?, [abc]; case-sensitive; "
                             "repeatable); default: every workflow")
    parser.add_argument("--all-task-defs", action="store_true",
                        help="import every task definition, not only those the imported workflows use")
    parser.add_argument("-o", "--output-dir", required=True, metavar="DIR",
                        help="the directory to write the manifests to (created; it must be empty without --force)")
    parser.add_argument("--force", action="store_true",
                        help="write into a directory that holds files already (files of the same name are "
                             "overwritten, others left as they are)")
    parser.add_argument("--cluster-name", default=DEFAULT_CLUSTER, metavar="NAME",
                        help="the ConductorCluster's name (default: default, which resources without "
                             "spec.clusterRef use)")
    parser.add_argument("--cluster-url", metavar="URL",
                        help="the URL the operator reaches the server at, when it is not --server (a "
                             "port-forward on your machine, a Service in the cluster)")
    parser.add_argument("--key-id", default=os.environ.get(KEY_ID_ENV),
                        help=f"Orkes Conductor: the application key id (default: ${KEY_ID_ENV})")
    parser.add_argument("--key-secret", default=os.environ.get(KEY_SECRET_ENV),
                        help=f"Orkes Conductor: the application key secret (default: ${KEY_SECRET_ENV}; prefer it "
                             f"to this option, which other users may see in the process list)")
    parser.add_argument("--secret-name", metavar="NAME",
                        help="the Secret the ConductorCluster takes the application key from (default: "
                             "<cluster name>-conductor-key)")
    parser.add_argument("--write-secret", action="store_true",
                        help="write the Secret with the application key into DIR as well (it holds the key in "
                             "clear text: keep it out of Git)")
    parser.add_argument("--ca-file", metavar="PATH",
                        help="PEM certificates to trust for an https server besides the system's (also written to "
                             "the ConductorCluster's spec.tls.caBundle)")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true",
                        help="do not verify an https server's certificate while reading it (not written to the "
                             "ConductorCluster)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="time limit of each request to the server (default 30)")


def run_import(args: argparse.Namespace) -> int:
    try:
        patterns = check_patterns(args.patterns)
    except BadPattern as error:
        raise BadInput(str(error)) from None
    if bool(args.key_id) != bool(args.key_secret):
        raise BadInput(f"an application key needs both its id and its secret (--key-id and --key-secret, or "
                       f"${KEY_ID_ENV} and ${KEY_SECRET_ENV})")
    for option, name in (("--cluster-name", args.cluster_name), ("--secret-name", args.secret_name)):
        if name is not None and not KUBERNETES_NAME.fullmatch(name):
            raise BadInput(f"{option} {name!r} is not a Kubernetes name (lowercase letters, digits, - and ., at most "
                           f"253, starting and ending with a letter or digit)")
    cluster_url = (args.cluster_url or args.server).strip().rstrip("/")
    if problem := url_problem(cluster_url):
        raise BadInput(f"{display_url(cluster_url)} cannot be the ConductorCluster's URL: {problem}")
    directory = _output_directory(args.output_dir, args.force)
    ca_bundle = _ca_bundle(args.ca_file) if args.ca_file else None
    workflows, task_defs, flavor = _read_server(args, ca_bundle)
    if patterns and not any(_matches(w, patterns) for w in workflows) and not args.all_task_defs:
        raise BadInput(f"no workflow in Conductor matches --name {' or '.join(patterns)} ({_count(workflows)})")
    adoption = adopt(workflows, task_defs, patterns=patterns, all_task_defs=args.all_task_defs,
                     cluster=args.cluster_name)
    keyed = bool(args.key_id) and flavor is not Flavor.OSS
    secret = (args.secret_name or f"{args.cluster_name}-conductor-key") if keyed else None
    cluster = cluster_manifest(args.cluster_name, cluster_url, secret)
    if ca_bundle:
        cluster["spec"]["tls"] = {"caBundle": ca_bundle}
    written = _write(directory, adoption, cluster, display_url(args.server))
    if secret and args.write_secret:
        written += 1
        _write_secret(directory / f"secret-{secret}.yaml", secret, args.key_id, args.key_secret)
    _report(args, adoption, directory, written, secret, flavor, cluster_url)
    return 0


def _matches(workflow: dict, patterns: list[str]) -> bool:
    return isinstance(workflow.get("name"), str) and matches(workflow["name"], patterns)


def _count(workflows: list[dict]) -> str:
    names = {w.get("name") for w in workflows}
    return f"it has {len(names)} workflow{'' if len(names) == 1 else 's'}"


def _output_directory(path: str, force: bool) -> Path:
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise BadInput(f"{path}: not a directory")
    try:
        if directory.is_dir() and any(directory.iterdir()) and not force:
            raise BadInput(f"{path}: the directory holds files already; pass --force to write into it anyway")
    except PermissionError:
        raise BadInput(f"{path}: cannot read the directory (permission denied)") from None
    return directory


# ---- reading the server ------------------------------------------------------------------------

def _ca_bundle(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"{path}: cannot read it ({getattr(error, 'strerror', None) or 'not text'})") from None
    if PEM_BEGIN not in text:
        raise BadInput(f"{path}: not PEM certificates (no {PEM_BEGIN})")
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError):
        raise BadInput(f"{path}: not PEM certificates that can be read") from None
    return text


def _verify(args: argparse.Namespace, ca_bundle: str | None) -> ssl.SSLContext | bool:
    if args.insecure_skip_tls_verify:
        return False
    return ssl.create_default_context(cadata=ca_bundle) if ca_bundle else True


def _read_server(args: argparse.Namespace, ca_bundle: str | None) -> tuple[list[dict], list[dict], Flavor]:
    server = display_url(args.server)
    try:
        client = ConductorClient(args.server.strip(), key_id=args.key_id, key_secret=args.key_secret,
                                 verify=_verify(args, ca_bundle), timeout=args.timeout,
                                 connect_timeout=min(args.timeout, 10.0), identify=True)
    except ValueError as error:
        raise BadInput(str(error)) from None
    try:
        return asyncio.run(_read(client))
    except NotConductor as error:
        raise BadInput(f"{server} does not answer as a Conductor server: {error.message}") from None
    except Unauthorized as error:
        if not args.key_id:
            raise BadInput(f"{server} answered HTTP {error.status} to a request without credentials (Orkes "
                           f"Conductor needs an application key: --key-id and --key-secret, or ${KEY_ID_ENV} and "
                           f"${KEY_SECRET_ENV})") from None
        raise BadInput(f"{server} refused the credentials: {error.message}") from None
    except Unavailable as error:
        raise BadInput(f"cannot read {server}: {error.message}") from None
    except ConductorError as error:
        raise BadInput(f"{server} refused reading its definitions: {error.message}") from None


async def _read(client: ConductorClient) -> tuple[list[dict], list[dict], Flavor]:
    async with client:
        try:
            await client.server_version()
        except (Unauthorized, Unavailable):
            raise
        except ConductorError as error:  # any other refusal of GET /api/version: not Conductor speaking
            raise NotConductor(error.status, error.message) from None
        flavor = await client.detect_flavor()
        workflows = await client.all_workflow_defs()
        task_defs = await client.all_task_defs()
    if not isinstance(workflows, list) or not isinstance(task_defs, list):
        raise NotConductor(200, "the definitions it answered are not lists")
    return ([w for w in workflows if isinstance(w, dict)], [t for t in task_defs if isinstance(t, dict)], flavor)


# ---- writing ----------------------------------------------------------------------------------

def _dump(manifest: dict) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=120)


def _write(directory: Path, adoption: Adoption, cluster: dict, server: str) -> int:
    header = _HEADER.format(server=server)
    files = [(f"conductorcluster-{cluster['metadata']['name']}.yaml", cluster)]
    files += [(manifest.filename, manifest.body) for manifest in adoption.manifests]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for filename, manifest in files:
            (directory / filename).write_text(header + _dump(manifest), encoding="utf-8")
    except OSError as error:
        raise BadInput(f"cannot write to {directory}: {error.strerror}") from None
    return len(files)


def _write_secret(path: Path, name: str, key_id: str, key_secret: str) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque",
              "stringData": {"keyId": key_id, "keySecret": key_secret}}
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write("# The Orkes application key in clear text: keep this file out of Git.\n" + _dump(secret))
    except OSError as error:
        raise BadInput(f"cannot write {path}: {error.strerror}") from None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _report(args: argparse.Namespace, adoption: Adoption, directory: Path, written: int, secret: str | None,
            flavor: Flavor, cluster_url: str) -> None:
    workflows = {m.body["spec"]["name"] for m in adoption.manifests if m.kind == "WorkflowDefinition"}
    print(f"Wrote {_plural(written, 'file')} to {directory}: 1 ConductorCluster, "
          f"{_plural(adoption.count('TaskDefinition'), 'TaskDefinition')}, "
          f"{_plural(adoption.count('WorkflowDefinition'), 'WorkflowDefinition')} "
          f"({_plural(len(workflows), 'workflow')}).")
    print(f"Apply them with `kubectl apply -n NAMESPACE -f {directory}`: each resource reports Ready with reason "
          f"Adopted, and nothing is registered again while Conductor's copy matches.")
    for line in adoption.skipped:
        print(f"{PROGRAM}: warning: not written: {line}", file=sys.stderr)
    for line in adoption.notes:
        print(f"{PROGRAM}: note: {line}", file=sys.stderr)
    if args.key_id and flavor is Flavor.OSS:
        print(f"{PROGRAM}: note: the server is Conductor OSS, which takes no application key: the ConductorCluster "
              f"has no spec.auth", file=sys.stderr)
    if secret and not args.write_secret:
        print(f"{PROGRAM}: note: the ConductorCluster takes its application key from Secret {secret}, which was "
              f"not written (no key is written to disk unless --write-secret). Create it in the same namespace: "
              f"kubectl create secret generic {secret} -n NAMESPACE --from-literal=keyId=... "
              f"--from-literal=keySecret=...", file=sys.stderr)
    if secret and args.write_secret:
        print(f"{PROGRAM}: warning: secret-{secret}.yaml holds the application key in clear text: keep it out of "
              f"Git", file=sys.stderr)
    if not args.cluster_url and _loopback(cluster_url):
        print(f"{PROGRAM}: note: the ConductorCluster points at {display_url(cluster_url)}, a loopback address; "
              f"if the operator reaches Conductor elsewhere, pass --cluster-url", file=sys.stderr)


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


COMMANDS: dict[str, Command] = {
    "import": Command("write manifests adopting the definitions a Conductor server already holds (TaskDefinitions, "
                      "a WorkflowDefinition per version, a ConductorCluster)", _arguments, run_import),
}
