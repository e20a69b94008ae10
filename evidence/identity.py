"""Who a device is: its id, its Ed25519 signing key, and the custodian it seals to."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evidence import canonical
from evidence.errors import KeyFileError
from evidence.primitives import key_id, x25519_raw

DEVICE_PUB_FORMAT = "bodycam-device-pub/1"

#: Device ids end up in file names and JSON: keep them to a safe alphabet.
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_device_id(device_id: object) -> str:
    """Return ``device_id`` if it is usable, else raise :class:`KeyFileError`."""
    if not isinstance(device_id, str) or not DEVICE_ID_RE.match(device_id):
        raise KeyFileError(
            f"invalid device id {device_id!r}; use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit")
    return device_id


@dataclass(frozen=True)
class DeviceIdentity:
    """Everything the evidence writer needs to know about the device.

    Construction fails closed: without a custodian public key there is no way to
    seal data keys, and the device must not record.
    """

    device_id: str
    signing_key: Ed25519PrivateKey
    custodian_public_key: X25519PublicKey

    def __post_init__(self) -> None:
        check_device_id(self.device_id)
        if not isinstance(self.signing_key, Ed25519PrivateKey):
            raise KeyFileError("device signing key is not an Ed25519 private key")
        if not isinstance(self.custodian_public_key, X25519PublicKey):
            raise KeyFileError("no custodian X25519 public key: the device will not record "
                               "without one (run 'bodycam keys device')")

    @property
    def public_key_raw(self) -> bytes:
        """The device's raw 32-byte Ed25519 public key."""
        return self.signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def custodian_key_id(self) -> str:
        """Hex SHA-256 of the custodian's raw public key (written in every header)."""
        return key_id(x25519_raw(self.custodian_public_key))


def device_pub_bytes(device_id: str, public_key: Ed25519PublicKey,
                     custodian_key_id: str) -> bytes:
    """The content of device.pub: one line of canonical JSON."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return canonical.encode({"custodian_key_id": custodian_key_id, "device_id": device_id,
                             "ed25519": raw.hex(), "format": DEVICE_PUB_FORMAT}) + b"\n"


def parse_device_pub(data: bytes, where: str) -> tuple[str, Ed25519PublicKey]:
    """Parse device.pub bytes into (device id, public key); KeyFileError if not one."""
    try:
        doc = canonical.decode_object(data.strip(), strict=False)
        if doc.get("format") != DEVICE_PUB_FORMAT:
            raise ValueError("format")
        device_id = check_device_id(doc.get("device_id"))
        raw = bytes.fromhex(doc["ed25519"])
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, KeyError, TypeError, KeyFileError):
        raise KeyFileError(f"{where}: not a bodycam device.pub; give the device.pub "
                           "written by 'bodycam keys device'") from None
    return device_id, key
