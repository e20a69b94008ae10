"""The signer seam: how the device signs, and how anyone checks what it signed.

As age's ``Identity``/``Recipient`` let hardware keys plug in without a format
change, the device signs through :class:`Signer` (an algorithm, a public key,
``sign``) and every v2 signature carries its algorithm in its first byte
(docs/FORMAT.md §1). Backends: :class:`KeyFileSigner` (Ed25519 from
``device.key``, development and demo: whoever copies the card can forge) and
``drivers.tpm.TpmSigner`` (ECDSA P-256 inside a TPM 2.0, never exportable).
Verification needs ``cryptography`` only, so a custodian's machine needs no TPM
stack.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: Raw signature length of both algorithms (Ed25519; ECDSA P-256 as r ‖ s).
RAW_SIG_LEN = 64
#: A v2 signature: algorithm byte ‖ raw signature.
SIG2_LEN = 1 + RAW_SIG_LEN
_P256_ORDER_BYTES = 32


class SigAlg(enum.IntEnum):
    """Signature algorithms, by the byte that names them in a v2 signature."""

    ED25519 = 0x01  # RFC 8032, pure Ed25519; public key 32 raw bytes
    ECDSA_P256_SHA256 = 0x02  # FIPS 186-5 ECDSA, P-256, SHA-256; r ‖ s; key SEC1 uncompressed

    @property
    def label(self) -> str:
        """The algorithm's name in JSON documents."""
        return _LABELS[self]

    @classmethod
    def from_label(cls, label: object) -> SigAlg:
        """The algorithm a JSON document names; ValueError for any other string."""
        for alg, name in _LABELS.items():
            if label == name:
                return alg
        raise ValueError(f"unknown signature algorithm {label!r}")

    @property
    def public_len(self) -> int:
        """Length of the raw public key."""
        return 32 if self is SigAlg.ED25519 else 65


_LABELS = {SigAlg.ED25519: "ed25519", SigAlg.ECDSA_P256_SHA256: "ecdsa-p256-sha256"}


class KeyStore(enum.Enum):
    """Where the device key lives."""

    FILE = "file"
    TPM = "tpm"


#: What doctor and the boot audit entry say about a key-file device.
FILE_KEY_WARNING = ("device key is a file (Ed25519 device.key): footage signed this way can be "
                    "forged by whoever copies the card; use --key-store tpm on a device in service")


class Signer(Protocol):
    """The device's signing key, wherever it lives."""

    @property
    def alg(self) -> SigAlg:
        """The algorithm this key signs with."""
        ...

    @property
    def public_raw(self) -> bytes:
        """The raw public key (32 bytes Ed25519, 65 bytes SEC1 uncompressed P-256)."""
        ...

    def sign(self, message: bytes) -> bytes:
        """A raw 64-byte signature over ``message``."""
        ...


def sign2(signer: Signer, message: bytes) -> bytes:
    """A v2 signature: the algorithm byte, then the raw signature."""
    raw = signer.sign(message)
    if len(raw) != RAW_SIG_LEN:
        raise RuntimeError(f"signer returned {len(raw)} bytes, not {RAW_SIG_LEN}")
    return bytes([signer.alg]) + raw


class KeyFileSigner:
    """Ed25519 from a key file (or in RAM, for the per-segment chunk key)."""

    alg = SigAlg.ED25519

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> KeyFileSigner:
        """A fresh key (a segment's chunk key: lives in RAM only)."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The key itself (the v1 writer and the test vectors need it)."""
        return self._key

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature, 64 bytes."""
        return self._key.sign(message)


@dataclass(frozen=True)
class PublicKey:
    """A device's (or a chunk key's) public key: algorithm and raw bytes."""

    alg: SigAlg
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != self.alg.public_len:
            raise ValueError(f"{self.alg.label} public key must be {self.alg.public_len} bytes")
        self._load()  # raises ValueError for a point not on the curve

    def _load(self) -> Ed25519PublicKey | ec.EllipticCurvePublicKey:
        if self.alg is SigAlg.ED25519:
            return Ed25519PublicKey.from_public_bytes(self.raw)
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.raw)

    @classmethod
    def of(cls, signer: Signer) -> PublicKey:
        """The public half of ``signer``."""
        return cls(signer.alg, signer.public_raw)

    @classmethod
    def from_hex(cls, alg: object, hex_raw: object) -> PublicKey:
        """From a document's algorithm label and hex key; ValueError if not one."""
        if not isinstance(hex_raw, str):
            raise ValueError("public key is not a hex string")
        return cls(SigAlg.from_label(alg), bytes.fromhex(hex_raw))

    def verify_raw(self, sig: bytes, message: bytes) -> bool:
        """Check a raw 64-byte signature (v1 layout: no algorithm byte)."""
        if len(sig) != RAW_SIG_LEN:
            return False
        key = self._load()
        try:
            if isinstance(key, Ed25519PublicKey):
                key.verify(sig, message)
            else:
                r = int.from_bytes(sig[:32], "big")
                s = int.from_bytes(sig[32:], "big")
                key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def verify2(self, sig: bytes, message: bytes) -> bool:
        """Check a v2 signature: its algorithm byte must name this key's algorithm."""
        return len(sig) == SIG2_LEN and sig[0] == self.alg and self.verify_raw(sig[1:], message)


def ecdsa_raw(der: bytes) -> bytes:
    """r ‖ s (32 bytes each) from a DER ECDSA signature."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(_P256_ORDER_BYTES, "big") + s.to_bytes(_P256_ORDER_BYTES, "big")
