"""Who a device is: its id, its signer (key file or TPM), and the custodian it seals to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evidence import canonical
from evidence.errors import KeyFileError
from evidence.primitives import key_id, x25519_raw
from evidence.signer import KeyFileSigner, KeyStore, PublicKey, SigAlg, Signer

DEVICE_PUB_FORMAT = "bodycam-device-pub/1"
DEVICE_PUB_FORMAT_2 = "bodycam-device-pub/2"

#: Device ids end up in file names and JSON: keep them to a safe alphabet.
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_device_id(device_id: object) -> str:
    """Return ``device_id`` if it is usable, else raise :class:`KeyFileError`."""
    if not isinstance(device_id, str) or not DEVICE_ID_RE.fullmatch(device_id):
        raise KeyFileError(
            f"invalid device id {device_id!r}; use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit")
    return device_id


@dataclass(frozen=True)
class DeviceIdentity:
    """Everything the evidence writer needs to know about the device.

    Construction fails closed: without a custodian public key there is no way to
    seal data keys, and the device must not record. ``signer`` may be given as an
    Ed25519 private key (a key file). ``counter`` is the hardware counter of a TPM
    identity; None means the store keeps a file counter in the data directory.
    """

    device_id: str
    signer: Signer | Ed25519PrivateKey
    custodian_public_key: X25519PublicKey
    key_store: KeyStore = KeyStore.FILE
    counter: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_device_id(self.device_id)
        if isinstance(self.signer, Ed25519PrivateKey):
            object.__setattr__(self, "signer", KeyFileSigner(self.signer))
        if not all(hasattr(self.signer, a) for a in ("alg", "public_raw", "sign")):
            raise KeyFileError("device signing key is not a signer (key file or TPM)")
        if not isinstance(self.custodian_public_key, X25519PublicKey):
            raise KeyFileError("no custodian X25519 public key: the device will not record "
                               "without one (run 'bodycam keys device')")

    @property
    def device_signer(self) -> Signer:
        """The signer, typed."""
        assert not isinstance(self.signer, Ed25519PrivateKey)
        return self.signer

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 key of a key-file identity (v1 vectors and tests only)."""
        if not isinstance(self.signer, KeyFileSigner):
            raise KeyFileError("this identity's key is in a TPM and cannot be read")
        return self.signer.private_key

    @property
    def public(self) -> PublicKey:
        """The device's public key with its algorithm."""
        return PublicKey.of(self.device_signer)

    @property
    def public_key_raw(self) -> bytes:
        """The device's raw public key."""
        return self.device_signer.public_raw

    @property
    def custodian_key_id(self) -> str:
        """Hex SHA-256 of the custodian's raw public key (written in every header)."""
        return key_id(x25519_raw(self.custodian_public_key))


class DevicePub(NamedTuple):
    """A parsed device.pub."""

    device_id: str
    key: PublicKey
    custodian_key_id: str | None  # None only if the file could not say
    key_store: KeyStore
    version: int


def device_pub_bytes(device_id: str, public_key: PublicKey | Ed25519PublicKey,
                     custodian_key_id: str, key_store: KeyStore = KeyStore.FILE) -> bytes:
    """The content of device.pub (format 2): one line of canonical JSON."""
    if isinstance(public_key, Ed25519PublicKey):
        public_key = PublicKey(SigAlg.ED25519,
                               public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    return canonical.encode({"custodian_key_id": custodian_key_id, "device_id": device_id,
                             "format": DEVICE_PUB_FORMAT_2, "key_alg": public_key.alg.label,
                             "key_store": key_store.value,
                             "public_key": public_key.raw.hex()}) + b"\n"


_HEX64 = re.compile(r"[0-9a-f]{64}")


def parse_device_pub_full(data: bytes, where: str) -> DevicePub:
    """Parse device.pub (format 1 or 2); KeyFileError if it is not one."""
    try:
        doc = canonical.decode_object(data.strip(), strict=False)
        cid = doc.get("custodian_key_id")
        if not isinstance(cid, str) or not _HEX64.fullmatch(cid):
            raise ValueError("custodian_key_id")
        device_id = check_device_id(doc.get("device_id"))
        if doc.get("format") == DEVICE_PUB_FORMAT:
            if set(doc) != {"custodian_key_id", "device_id", "ed25519", "format"}:
                raise ValueError("fields")
            key = PublicKey.from_hex("ed25519", doc["ed25519"])
            return DevicePub(device_id, key, cid, KeyStore.FILE, 1)
        if doc.get("format") != DEVICE_PUB_FORMAT_2 or set(doc) != {
                "custodian_key_id", "device_id", "format", "key_alg", "key_store", "public_key"}:
            raise ValueError("format")
        key = PublicKey.from_hex(doc["key_alg"], doc["public_key"])
        return DevicePub(device_id, key, cid, KeyStore(doc["key_store"]), 2)
    except (ValueError, KeyError, TypeError, KeyFileError):
        raise KeyFileError(f"{where}: not a bodycam device.pub; give the device.pub "
                           "written by 'bodycam keys device'") from None


def parse_device_pub(data: bytes, where: str) -> tuple[str, PublicKey]:
    """Parse device.pub bytes into (device id, public key); KeyFileError if not one."""
    pub = parse_device_pub_full(data, where)
    return pub.device_id, pub.key
