"""``lanhar-fl certs``: CA, SuperLink certificate, SuperNode OpenSSH keys, no overwrites."""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lanhar_fl.cli import main
from lanhar_fl.deploy.certs import CertsError, CertsPlan, generate

PRIVATE = ["ca.key", "server.key", "supernode_1", "supernode_2"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("certs")
    old = os.umask(0o000)  # a permissive umask must not leak into private-key modes
    try:
        info = generate(out, CertsPlan(hosts=("localhost", "127.0.0.1", "superlink.example"),
                                       supernodes=2, days=30))
    finally:
        os.umask(old)
    return out, info


def test_files_and_private_modes(made):
    out, info = made
    for name in ["ca.crt", "server.pem", "supernode_1.pub", "supernode_2.pub", *PRIVATE]:
        assert (out / name).is_file(), name
    for name in PRIVATE:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    assert not (out / "supernode_3").exists()
    assert info["register_commands"] == [f"flwr supernode register {out}/supernode_{i}.pub"
                                         for i in (1, 2)]


def test_server_cert_verifies_against_ca_with_sans(made):
    out, _ = made
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((out / "server.pem").read_bytes())
    server.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "superlink.example"}
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    key = serialization.load_pem_private_key((out / "server.key").read_bytes(), None)
    assert key.public_key() == server.public_key()


def _handshake(out, hostname: str) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(out / "server.pem", out / "server.key")
    client_ctx = ssl.create_default_context(cafile=str(out / "ca.crt"))
    bios = [ssl.MemoryBIO() for _ in range(4)]
    server = server_ctx.wrap_bio(bios[0], bios[1], server_side=True)
    client = client_ctx.wrap_bio(bios[2], bios[3], server_hostname=hostname)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, end in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        bios[0].write(bios[3].read())  # client -> server
        bios[2].write(bios[1].read())  # server -> client
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_tls_handshake_verifies_hostname(made, hostname):
    _handshake(made[0], hostname)


def test_tls_handshake_rejects_unknown_host(made):
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(made[0], "elsewhere.example")


def test_supernode_keys_are_openssh_ec(made):
    out, _ = made
    pub_text = (out / "supernode_1.pub").read_bytes()
    assert pub_text.startswith(b"ecdsa-sha2-nistp256 ")
    public = serialization.load_ssh_public_key(pub_text)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    # flower-supernode reads --auth-supernode-private-key with load_ssh_private_key
    private = serialization.load_ssh_private_key((out / "supernode_1").read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert private.public_key() == public
    other = serialization.load_ssh_public_key((out / "supernode_2.pub").read_bytes())
    assert other != public


def test_refuses_to_overwrite(made, tmp_path):
    out, _ = made
    before = (out / "ca.crt").read_bytes()
    with pytest.raises(CertsError, match="ca.crt already exists"):
        generate(out, CertsPlan(supernodes=2))
    assert (out / "ca.crt").read_bytes() == before
    (tmp_path / "supernode_2.pub").write_text("mine\n")
    with pytest.raises(CertsError, match="supernode_2.pub"):
        generate(tmp_path, CertsPlan(supernodes=2))
    assert not (tmp_path / "ca.crt").exists()  # nothing written on refusal
    generate(tmp_path, CertsPlan(supernodes=2, overwrite=True))
    assert (tmp_path / "supernode_2.pub").read_bytes().startswith(b"ecdsa-sha2-nistp256")


def test_cli(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["certs", f"++out={out}", "++certs.supernodes=1"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["hosts"] == ["localhost", "127.0.0.1"]
    assert "--enable-supernode-auth" in info["superlink_command"]
    assert sorted(p.name for p in out.iterdir()) == [
        "ca.crt", "ca.key", "server.key", "server.pem", "supernode_1", "supernode_1.pub"]
    assert main(["certs", f"++out={out}", "++certs.supernodes=1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["certs"]) == 2
