"""Keys and signatures as the readers check them, for both format versions.

v1 signatures are 64 raw Ed25519 bytes; v2 ones carry their algorithm in a
first byte (docs/FORMAT.md §1). Files are opened only if regular and not
through a symbolic link, so a hostile tree cannot make a reader hang on a
FIFO or follow a link out of the tree.
"""

from __future__ import annotations

import os
import stat
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evidence.primitives import key_id
from evidence.signer import RAW_SIG_LEN, SIG2_LEN, PublicKey, SigAlg

#: What callers may pass as a key: a PublicKey, or (v1 callers) an Ed25519 key.
AnyKey = PublicKey | Ed25519PublicKey


def as_public(key: AnyKey) -> PublicKey:
    """A PublicKey from either kind of key object."""
    if isinstance(key, PublicKey):
        return key
    return PublicKey(SigAlg.ED25519, key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def raw_public(key: AnyKey) -> bytes:
    """Raw bytes of a public key."""
    return as_public(key).raw


def sig_len(version: int) -> int:
    """Signature length: v1 raw Ed25519, v2 algorithm byte and raw signature."""
    return RAW_SIG_LEN if version == 1 else SIG2_LEN


def verifies(key: PublicKey, sig: bytes, msg: bytes, version: int) -> bool:
    if version == 1:
        return key.alg is SigAlg.ED25519 and key.verify_raw(sig, msg)
    return key.verify2(sig, msg)


def embedded_key(doc: dict[str, Any] | None) -> PublicKey | None:
    """The device key a (possibly unverified) document names."""
    if doc is None:
        return None
    try:
        return PublicKey.from_hex(doc.get("device_key_alg", "ed25519"), doc["device_key"])
    except (ValueError, KeyError, TypeError):
        return None


def signature_problem(doc: dict[str, Any] | None, pinned: PublicKey, sig: bytes,
                      msg: bytes, what: str, version: int) -> tuple[bool, str]:
    """Explain a failed signature: (True, ...) if another device's key made it, else
    (False, ...) for an altered item."""
    claimed = embedded_key(doc)
    if claimed is not None and claimed != pinned and verifies(claimed, sig, msg, version):
        assert doc is not None
        return True, (f"{what} is signed by device {doc.get('device_id')!r} key "
                         f"{key_id(claimed.raw)[:16]}, not by the expected key "
                         f"{key_id(pinned.raw)[:16]}")
    return False, f"{what} signature does not verify (altered)"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading, refusing symlinks, FIFOs and devices."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
