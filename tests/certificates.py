"""Throwaway TLS certificates for the peers the tests start (trustme)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class ServerCertificate:
    """A server's certificate and key, and the CA file a client verifies them with."""

    cafile: Path
    certfile: Path
    keyfile: Path


def issue_server_certificate(directory: Path) -> ServerCertificate:
    """A new CA and a certificate for 127.0.0.1 and localhost signed by it, as PEM files."""
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    certificate = ServerCertificate(
        directory / "ca.pem", directory / "server.pem", directory / "server.key"
    )
    authority.cert_pem.write_to_path(str(certificate.cafile))
    issued.cert_chain_pems[0].write_to_path(str(certificate.certfile))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(certificate.certfile), append=True)
    issued.private_key_pem.write_to_path(str(certificate.keyfile))
    certificate.keyfile.chmod(0o600)
    return certificate
