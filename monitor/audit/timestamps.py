"""RFC 3161 timestamps of the chain head: what is stamped, the request, and reading a token back.

A Time-Stamp Authority signs "this sha256 existed at this time". What we have it sign is the
chain head's hash, written as its 64 hex characters (the bytes of ``head-<seq>.txt`` in an
evidence pack), so anyone can check a token with ``openssl ts -verify -data head-<seq>.txt``.
A token over the head at seq N proves every record up to seq N existed, as it is now, at that
time: rewriting the history after that breaks the hash the token names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    TimeStampRequest,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from monitor.errors import MonitorError

CONTENT_TYPE = "application/timestamp-query"


class TokenError(MonitorError):
    """A timestamp token that cannot be read, is not signed by its TSA, or stamps something else."""


@dataclass(frozen=True)
class Token:
    """What a checked token says: when, by whom, over which head."""

    gen_time: datetime
    serial: int
    signer: str
    head_hash: str


def message(head_hash: str) -> bytes:
    """The bytes stamped: the head hash as 64 lowercase hex characters, no newline."""
    return head_hash.lower().encode("ascii")


def request(head_hash: str) -> TimeStampRequest:
    """A query over the head, asking for the TSA's certificate in the reply, with a fresh nonce."""
    return (
        TimestampRequestBuilder()
        .data(message(head_hash))
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )


def load_roots(path: Path) -> list[x509.Certificate]:
    """The TSA root certificates in a PEM file."""
    try:
        return load_roots_pem(path.read_bytes())
    except OSError as exc:
        raise MonitorError(f"cannot read the TSA root certificate {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise MonitorError(f"{path} is not a PEM certificate: {exc}") from exc


def load_roots_pem(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)


def canonical_pem(certs: list[x509.Certificate]) -> bytes:
    """Certificates as PEM and nothing else: the same bytes for the same certificates."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(cert.public_bytes(Encoding.PEM) for cert in certs)


def check(token: bytes, head_hash: str, roots: list[x509.Certificate], nonce: int | None = None) -> Token:
    """Read a DER TimeStampResp and check it: granted, signed by a TSA certificate that chains to
    ``roots`` (at the time it signed), over exactly this head. Raise TokenError saying why not."""
    try:
        reply = decode_timestamp_response(token)
    except ValueError as exc:
        raise TokenError(f"not a readable RFC 3161 reply ({exc})") from None
    if reply.as_bytes() != token:
        raise TokenError("bytes follow the RFC 3161 reply: it was changed")
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    if nonce is not None:
        builder = builder.nonce(nonce)
    try:
        builder.build().verify_message(reply, message(head_hash))
    except VerificationError as exc:
        reason = str(exc)
        if reason == "Mismatch between messages":
            stamped = reply.tst_info.message_imprint.message.hex()
            raise TokenError(f"it stamps another hash ({stamped[:16]}...), not this chain head") from None
        raise TokenError(
            f"its signature does not verify against the TSA's root certificate ({reason})"
        ) from None
    info = reply.tst_info
    return Token(info.gen_time, info.serial_number, _signer(reply), head_hash)


def _signer(reply: object) -> str:
    certs = [x509.load_der_x509_certificate(c) for c in reply.signed_data.certificates]  # type: ignore[attr-defined]
    return certs[0].subject.rfc4514_string() if certs else "unknown"
