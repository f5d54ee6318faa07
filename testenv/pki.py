"""Certificates for a throwaway kube-apiserver: one CA, a serving cert, an admin client cert."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7)))


class Pki:
    """Writes every file kube-apiserver and its clients need into ``directory``."""

    def __init__(self, directory: Path):
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        ca_key = _key()
        ca_name = _name("conductor-operator-testenv-ca")
        ca_cert = (_builder(ca_name, ca_name, ca_key.public_key())
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .sign(ca_key, hashes.SHA256()))
        self.ca_cert = self._write("ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM))

        serving_key = _key()
        serving = (_builder(_name("kube-apiserver"), ca_name, serving_key.public_key())
                   .add_extension(x509.SubjectAlternativeName([
                       x509.DNSName("localhost"), x509.DNSName("kubernetes"),
                       x509.DNSName("kubernetes.default.svc"),
                       x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                       x509.IPAddress(ipaddress.ip_address("10.0.0.1"))]), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        self.serving_cert = self._write("apiserver.crt", serving.public_bytes(serialization.Encoding.PEM))
        self.serving_key = self._write("apiserver.key", _pem_key(serving_key))

        admin_key = _key()
        admin = (_builder(_name("admin", "system:masters"), ca_name, admin_key.public_key())
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                 .sign(ca_key, hashes.SHA256()))
        self.admin_cert = self._write("admin.crt", admin.public_bytes(serialization.Encoding.PEM))
        self.admin_key = self._write("admin.key", _pem_key(admin_key))

        sa_key = _key()
        self.sa_key = self._write("sa.key", _pem_key(sa_key))
        self.sa_pub = self._write("sa.pub", sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def _write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path
