"""Key files: the custodian's X25519 pair and each device's Ed25519 identity.

Files (docs/FORMAT.md §3): ``custodian.key`` (PKCS#8 PEM, mode 0600, never on a
device), ``custodian.pub`` (SubjectPublicKeyInfo PEM); a device identity
directory holds ``device.key`` (PKCS#8 PEM, mode 0600), ``device.pub`` (one
line of canonical JSON naming the device and its key: what the custodian
registers) and a copy of ``custodian.pub``. PEM keeps the keys readable by
openssl; the JSON binds a device id to its public key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from evidence.errors import KeyFileError
from evidence.fsutil import read_regular
from evidence.identity import (
    DEVICE_PUB_FORMAT,
    DeviceIdentity,
    DevicePub,
    check_device_id,
    device_pub_bytes,
    parse_device_pub,
    parse_device_pub_full,
)
from evidence.layout import DEVICE_PUB
from evidence.primitives import key_id, x25519_raw
from evidence.signer import KeyStore, PublicKey, SigAlg

CUSTODIAN_KEY = "custodian.key"
CUSTODIAN_PUB = "custodian.pub"
DEVICE_KEY = "device.key"
MAX_KEY_FILE = 64 * 1024

#: What ``bodycam keys custodian`` must tell its user.
__all__ = [
    "CUSTODIAN_KEY", "CUSTODIAN_PUB", "CUSTODIAN_WARNING", "DEVICE_KEY", "DEVICE_PUB",
    "DEVICE_PUB_FORMAT", "DeviceFiles", "DeviceIdentity", "create_custodian", "create_device",
    "device_pub_bytes", "load_custodian_private", "load_custodian_public", "load_device_pub",
    "load_device_pub_full", "load_identity", "KeyStore", "CustodianMismatch", "parse_device_pub",
]

CUSTODIAN_WARNING = (
    "custodian.key is the evidence office's PRIVATE key: keep it offline and backed up; "
    "it must NEVER be copied onto a device. Give devices custodian.pub only.")


class DeviceFiles(NamedTuple):
    """Paths ``create_device`` wrote."""

    identity_dir: Path
    device_key: Path
    device_pub: Path
    custodian_pub: Path


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` exclusively with ``mode`` (never replaces a key), fsync'd."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key; "
                           "choose another --out directory") from None
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed or widened it
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _prepare_dir(out_dir: Path, names: list[str]) -> Path:
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"cannot create {out_dir}: {exc.strerror or exc}; "
                           "choose another --out directory") from None
    for name in names:
        if (out_dir / name).exists():
            raise KeyFileError(f"{out_dir / name} already exists; refusing to overwrite a key; "
                               "choose another --out directory")
    return out_dir


def _read(path: Path, what: str) -> bytes:
    """A key file: regular, not through a symlink, at most 64 KiB (never hangs on a FIFO)."""
    path = Path(path)
    try:
        return read_regular(path, MAX_KEY_FILE)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such file; give the path of the {what}") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: is a directory; give the {what} file in it") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read {what}: {exc.strerror or exc}; "
                           "check the path and its permissions") from None


def create_custodian(out_dir: Path) -> tuple[Path, Path]:
    """Make the evidence office's X25519 key pair; returns (private, public) paths."""
    out_dir = _prepare_dir(Path(out_dir), [CUSTODIAN_KEY, CUSTODIAN_PUB])
    private = X25519PrivateKey.generate()
    priv_path, pub_path = out_dir / CUSTODIAN_KEY, out_dir / CUSTODIAN_PUB
    _write_new(priv_path, private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                NoEncryption()), 0o600)
    _write_new(pub_path, private.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo), 0o644)
    return priv_path, pub_path


def load_custodian_public(path: Path) -> X25519PublicKey:
    """Read custodian.pub; refuses a private key (it must never reach a device)."""
    data = _read(path, "custodian public key")
    if b"PRIVATE KEY" in data:
        raise KeyFileError(f"{path} is a PRIVATE key: the custodian private key must never "
                           "go on a device; give custodian.pub instead")
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path}: not a PEM public key; give custodian.pub from "
                           "'bodycam keys custodian'") from None
    if not isinstance(key, X25519PublicKey):
        raise KeyFileError(f"{path}: not an X25519 key; give custodian.pub from "
                           "'bodycam keys custodian'")
    return key


def load_custodian_private(path: Path) -> X25519PrivateKey:
    """Read custodian.key for export."""
    return _load_private(path, X25519PrivateKey, "custodian private key", "X25519",
                         "give custodian.key from 'bodycam keys custodian'")


def _load_private(path: Path, kind: type, what: str, algorithm: str, hint: str) -> Any:
    """An unencrypted PEM private key of ``kind``, or a one-line KeyFileError."""
    data = _read(path, what)
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path}: not an unencrypted PEM private key; {hint}") from None
    if not isinstance(key, kind):
        raise KeyFileError(f"{path}: not an {algorithm} private key; {hint}")
    return key


def load_device_pub(path: Path) -> tuple[str, PublicKey]:
    """Read a device.pub file: (device id, public key with its algorithm)."""
    return parse_device_pub(_read(path, "device.pub"), str(path))


def load_device_pub_full(path: Path) -> DevicePub:
    """Read a device.pub file with everything it says."""
    return parse_device_pub_full(_read(path, "device.pub"), str(path))


def create_device(device_id: str, custodian_pub_path: Path, out_dir: Path,
                  key_store: KeyStore = KeyStore.FILE, tcti: str | None = None) -> DeviceFiles:
    """Make a device identity directory (the ``--identity`` of ``bodycam run``).

    ``KeyStore.TPM``: the key is made inside the TPM ``tcti`` names and only its
    public part and wrapped blob (``tpm.json``) are written; there is no device.key.
    """
    check_device_id(device_id)
    custodian = load_custodian_public(Path(custodian_pub_path))
    secret = DEVICE_KEY if key_store is KeyStore.FILE else "tpm.json"
    out_dir = _prepare_dir(Path(out_dir), [secret, DEVICE_PUB, CUSTODIAN_PUB])
    files = DeviceFiles(out_dir, out_dir / secret, out_dir / DEVICE_PUB,
                        out_dir / CUSTODIAN_PUB)
    if key_store is KeyStore.TPM:
        from drivers.tpm import create_tpm_key, tcti_from
        point, blob = create_tpm_key(tcti_from(tcti))
        public = PublicKey(SigAlg.ECDSA_P256_SHA256, point)
        _write_new(files.device_key, blob, 0o640)
    else:
        signing = Ed25519PrivateKey.generate()
        public = PublicKey(SigAlg.ED25519, signing.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw))
        _write_new(files.device_key, signing.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                           NoEncryption()), 0o600)
    _write_new(files.device_pub, device_pub_bytes(
        device_id, public, key_id(x25519_raw(custodian)), key_store), 0o644)
    _write_new(files.custodian_pub, custodian.public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo), 0o644)
    return files


def load_identity(identity_dir: Path, tcti: str | None = None) -> DeviceIdentity:
    """Load a device identity directory; fails closed without a custodian public key,
    or when custodian.pub is not the custodian key device.pub names (someone replaced
    it to have footage sealed to another key)."""
    identity_dir = Path(identity_dir)
    if not identity_dir.is_dir():
        raise KeyFileError(f"{identity_dir}: no such identity directory "
                           "(create one with 'bodycam keys device')")
    if (identity_dir / CUSTODIAN_KEY).exists():
        raise KeyFileError(f"{identity_dir / CUSTODIAN_KEY}: the custodian PRIVATE key is on "
                           "this device; remove it (it must never be on a device) and "
                           "keep custodian.pub only")
    if not (identity_dir / CUSTODIAN_PUB).exists():
        raise KeyFileError(f"{identity_dir / CUSTODIAN_PUB}: missing; the device will not "
                           "record without the custodian public key")
    custodian = load_custodian_public(identity_dir / CUSTODIAN_PUB)
    pub = load_device_pub_full(identity_dir / DEVICE_PUB)
    if pub.custodian_key_id != key_id(x25519_raw(custodian)):
        raise CustodianMismatch(
            f"{identity_dir / CUSTODIAN_PUB}: is not the custodian key this device was made "
            f"for (device.pub names {str(pub.custodian_key_id)[:16]}, the file holds "
            f"{key_id(x25519_raw(custodian))[:16]}); footage would be sealed to someone else: "
            "restore the custodian.pub given with the identity")
    counter = None
    if pub.key_store is KeyStore.TPM:
        from drivers.tpm import load_tpm_key, tcti_from
        signer, counter = load_tpm_key(identity_dir, tcti_from(tcti))
        public_raw = signer.public_raw
        key: object = signer
    else:
        ed = _load_private(identity_dir / DEVICE_KEY, Ed25519PrivateKey, "device private key",
                           "Ed25519", "recreate the identity with 'bodycam keys device'")
        public_raw = ed.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key = ed
    if pub.key.raw != public_raw:
        raise KeyFileError(f"{identity_dir / DEVICE_PUB}: does not match the device key "
                           "(the identity directory is mixed up; recreate it)")
    return DeviceIdentity(pub.device_id, key, custodian, pub.key_store,  # type: ignore[arg-type]
                          counter)


class CustodianMismatch(KeyFileError):
    """custodian.pub on the device is not the custodian key its identity names."""
