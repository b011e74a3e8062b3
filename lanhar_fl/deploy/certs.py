"""TLS and SuperNode-authentication material for a Flower 1.42 deployment (``lanhar-fl certs``).

Files written to ``out`` and the flag each one goes to (flag names read from the installed
``flwr`` 1.42: ``superlink/cli/flower_superlink.py``, ``supernode/cli/flower_supernode.py``,
``cli/supernode/register.py``):

============================  ======================================================
``ca.crt``                    ``flower-superlink --ssl-ca-certfile ca.crt`` and
                              ``flower-supernode --root-certificates ca.crt``
``ca.key`` (0600)             keep offline; signs further server certificates
``server.pem``                ``flower-superlink --ssl-certfile server.pem``
``server.key`` (0600)         ``flower-superlink --ssl-keyfile server.key`` (PKCS8 PEM)
``supernode_<i>.pub``         ``flwr supernode register supernode_<i>.pub [SUPERLINK]``
                              (OpenSSH ``ecdsa-sha2-nistp256 ...``, one per SuperNode)
``supernode_<i>`` (0600)      ``flower-supernode --auth-supernode-private-key supernode_<i>``
                              (OpenSSH private key: flwr reads it with ``load_ssh_private_key``)
============================  ======================================================

SuperNode authentication needs TLS: start the SuperLink with ``--enable-supernode-auth`` plus
the three ``--ssl-*`` flags. All keys are EC P-256; the server certificate names every host in
``hosts`` as a DNS or IP subject alternative name. Private keys are created with mode 0600
(``os.open``, independent of the umask); existing files are never replaced unless ``overwrite``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT, CA_KEY = "ca.crt", "ca.key"
SERVER_CERT, SERVER_KEY = "server.pem", "server.key"
DEFAULT_HOSTS = ("localhost", "127.0.0.1")


class CertsError(ValueError):
    """Refused or invalid certificate request (e.g. a file that would be overwritten)."""


@dataclass(frozen=True)
class CertsPlan:
    """What to generate: hosts for the server certificate, SuperNode count, validity."""

    hosts: tuple[str, ...] = DEFAULT_HOSTS
    supernodes: int = 3
    days: int = 365
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not self.hosts:
            raise CertsError("certs.hosts: give at least one host name or IP address")
        if self.supernodes < 0 or self.days < 1:
            raise CertsError("certs.supernodes must be >= 0 and certs.days >= 1")


def supernode_names(i: int) -> tuple[str, str]:
    """(private key, public key) file names of SuperNode ``i`` (1-based)."""
    return f"supernode_{i}", f"supernode_{i}.pub"


def planned_files(plan: CertsPlan) -> list[str]:
    names = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY]
    for i in range(1, plan.supernodes + 1):
        names.extend(supernode_names(i))
    return names


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lanhar-fl"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
                         decipher_only=False)


def make_ca(days: int) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA (EC P-256, path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(_name("lanhar-fl CA"))
            .issuer_name(_name("lanhar-fl CA")).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_server_cert(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate,
                     hosts: Sequence[str],
                     days: int) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The SuperLink's TLS key and certificate, signed by the CA, SANs = ``hosts``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    cert = (x509.CertificateBuilder().subject_name(_name(hosts[0]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(aki, critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def supernode_key_pair() -> tuple[bytes, bytes]:
    """(OpenSSH private key, OpenSSH ``ecdsa-sha2-nistp256`` public key line) of a new key."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
    return private, public + b"\n"


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, *, private: bool, overwrite: bool) -> None:
    """Write ``data``; private files are created 0600 whatever the umask."""
    mode = 0o600 if private else 0o644
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError as exc:
        raise CertsError(f"{path} already exists; refusing to overwrite it "
                         "(pass certs.overwrite=true to replace)") from exc
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask and ignored for old files
        os.write(fd, data)
    finally:
        os.close(fd)


def generate(out: str | Path, plan: CertsPlan | None = None) -> dict:
    """Write the CA, server certificate/key and SuperNode key pairs to ``out``; a summary dict.

    Checks every target first, so that a refusal leaves the folder untouched.
    """
    plan = plan or CertsPlan()
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise CertsError(f"out={out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where the folder should be, no permission
        raise CertsError(f"out={out}: cannot create the folder: {exc.strerror or exc}") from exc
    if not plan.overwrite:
        existing = [out / n for n in planned_files(plan) if (out / n).exists()]
        if existing:
            raise CertsError(f"{existing[0]} already exists; refusing to overwrite it "
                             "(pass certs.overwrite=true to replace)")
    ca_key, ca_cert = make_ca(plan.days)
    server_key, server_cert = make_server_cert(ca_key, ca_cert, plan.hosts, plan.days)
    pem = serialization.Encoding.PEM
    files = {CA_CERT: (ca_cert.public_bytes(pem), False), CA_KEY: (_pkcs8(ca_key), True),
             SERVER_CERT: (server_cert.public_bytes(pem), False),
             SERVER_KEY: (_pkcs8(server_key), True)}
    for i in range(1, plan.supernodes + 1):
        private, public = supernode_key_pair()
        key_name, pub_name = supernode_names(i)
        files[key_name], files[pub_name] = (private, True), (public, False)
    for name, (data, private) in files.items():
        _write(out / name, data, private=private, overwrite=plan.overwrite)
    return summary(out, plan, server_cert)


def summary(out: Path, plan: CertsPlan, server_cert: x509.Certificate) -> dict:
    """Where each file goes: the flags of flower-superlink, flower-supernode and flwr."""
    nodes = []
    for i in range(1, plan.supernodes + 1):
        key_name, pub_name = supernode_names(i)
        nodes.append({"private_key": str(out / key_name), "public_key": str(out / pub_name)})
    return {
        "out": str(out), "hosts": list(plan.hosts), "days": plan.days,
        "not_valid_after": server_cert.not_valid_after_utc.isoformat(),
        "ca_certificate": str(out / CA_CERT), "ca_key": str(out / CA_KEY),
        "server_certificate": str(out / SERVER_CERT), "server_key": str(out / SERVER_KEY),
        "supernodes": nodes,
        "superlink_command": (f"flower-superlink --ssl-ca-certfile {out / CA_CERT} "
                              f"--ssl-certfile {out / SERVER_CERT} "
                              f"--ssl-keyfile {out / SERVER_KEY} --enable-supernode-auth"),
        "register_commands": [f"flwr supernode register {n['public_key']}" for n in nodes],
        "supernode_commands": [f"flower-supernode --root-certificates {out / CA_CERT} "
                               f"--auth-supernode-private-key {n['private_key']}"
                               for n in nodes],
    }
