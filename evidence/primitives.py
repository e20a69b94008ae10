"""The cryptographic constructions of the evidence format, in one place.

Only standard constructions (docs/FORMAT.md §4): HPKE (RFC 9180) base mode with
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM seals each segment's
data key to the custodian; AES-256-GCM in the STREAM construction (Hoang,
Reyhanitabar, Rogaway, Vizár 2015; as in age and Tink) encrypts the payload;
Ed25519 (RFC 8032) signs; SHA-256 hashes. Every signed message starts with a
NUL-terminated context string so a signature over one kind of structure can
never be replayed as another.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT_VERSION = 1

DATA_KEY_LEN = 32
NONCE_PREFIX_LEN = 7
TAG_LEN = 16
SIG_LEN = 64
HASH_LEN = 32
SEALED_KEY_LEN = 32 + DATA_KEY_LEN + TAG_LEN  # HPKE enc || AES-256-GCM(data key)

HPKE_SUITE_NAME = "HPKE-base/DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM"
HPKE_INFO = b"bodycam/v1 segment data key"
PAYLOAD_AEAD_NAME = "AES-256-GCM-STREAM(prefix7,counter32be,last8)"

CTX_HEADER = b"bodycam/v1 segment-header\x00"
CTX_CHUNK = b"bodycam/v1 chunk\x00"
CTX_TRAILER = b"bodycam/v1 segment-trailer\x00"
CTX_MANIFEST = b"bodycam/v1 recording-manifest\x00"
CTX_AUDIT = b"bodycam/v1 audit-checkpoint\x00"

#: Format v2 (docs/FORMAT.md): every signature is ``alg (u8) ‖ raw signature (64)``
#: and every context names v2, so no v1 signature can pass as a v2 one.
FORMAT_VERSION_2 = 2
CTX2_HEADER = b"bodycam/v2 segment-header\x00"
CTX2_CHUNK = b"bodycam/v2 chunk\x00"
CTX2_TRAILER = b"bodycam/v2 segment-trailer\x00"
CTX2_MANIFEST = b"bodycam/v2 recording-manifest\x00"
CTX2_AUDIT = b"bodycam/v2 audit-checkpoint\x00"
CTX2_EVENT = b"bodycam/v2 event\x00"

#: Chunk metadata, authenticated as AEAD associated data and signed:
#: index u32 | flags u8 | frames u32 | first_pts_us i64 | last_pts_us i64.
CHUNK_META = struct.Struct(">IBIqq")
FLAG_LAST = 0x01
MAX_CHUNK_INDEX = 0xFFFFFFFF

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

#: ``seal(data_key, custodian_public_key) -> 80 bytes``; injectable so a test
#: vector can fix HPKE's ephemeral key (the library always draws a fresh one).
Sealer = Callable[[bytes | bytearray, X25519PublicKey], bytes]


def sha256(data: bytes) -> bytes:
    """SHA-256 digest."""
    return hashlib.sha256(data).digest()


def x25519_raw(public_key: X25519PublicKey) -> bytes:
    """The 32 raw bytes of an X25519 public key."""
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(raw_public_key: bytes) -> str:
    """Hex SHA-256 of a raw public key: names a key without showing it."""
    return hashlib.sha256(raw_public_key).hexdigest()


def hpke_seal(data_key: bytes | bytearray, custodian: X25519PublicKey) -> bytes:
    """Seal a data key to the custodian (single-shot HPKE base mode, empty AAD)."""
    sealed = _SUITE.encrypt(memoryview(data_key), custodian, info=HPKE_INFO)
    if len(sealed) != SEALED_KEY_LEN:  # a library change would break the format
        raise RuntimeError("unexpected HPKE output length")
    return sealed


def hpke_open(sealed: bytes, custodian: X25519PrivateKey) -> bytes:
    """Open a sealed data key; raises ``cryptography.exceptions.InvalidTag`` if not ours."""
    return _SUITE.decrypt(sealed, custodian, info=HPKE_INFO)


def forget(key: bytearray) -> None:
    """Overwrite a data key we hold with zeros once it is no longer needed.

    Only our copy: the cipher library keeps its own until its context is freed, and
    Python may have copied the bytes elsewhere; this narrows what a memory dump finds.
    """
    key[:] = bytes(len(key))


def stream_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    """STREAM nonce: prefix (7) || chunk counter (4, big-endian) || last flag (1)."""
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def chunk_meta(index: int, last: bool, frames: int, first_pts_us: int, last_pts_us: int) -> bytes:
    """The 25 bytes of chunk metadata (FORMAT.md §5.2)."""
    return CHUNK_META.pack(index, FLAG_LAST if last else 0, frames, first_pts_us, last_pts_us)


def chunk_aad(header_hash: bytes, meta: bytes) -> bytes:
    """AEAD associated data of a chunk: binds it to its segment header and metadata."""
    return header_hash + meta


def seal_chunk(aead: AESGCM, prefix: bytes, header_hash: bytes, meta: bytes,
               index: int, last: bool, plaintext: bytes | memoryview) -> bytes:
    """Encrypt one STREAM chunk."""
    return aead.encrypt(stream_nonce(prefix, index, last), plaintext, chunk_aad(header_hash, meta))


def header_message(header_json: bytes, version: int = FORMAT_VERSION) -> bytes:
    """What the device signs for a segment header."""
    return (CTX_HEADER if version == 1 else CTX2_HEADER) + header_json


def chunk_message(header_hash: bytes, index: int, meta_and_ct_hash: bytes,
                  prev_sig: bytes, version: int = FORMAT_VERSION) -> bytes:
    """What is signed for a chunk: header, position, content, predecessor."""
    ctx = CTX_CHUNK if version == 1 else CTX2_CHUNK
    return ctx + header_hash + struct.pack(">I", index) + meta_and_ct_hash + prev_sig


def trailer_message(header_hash: bytes, last_chunk_sig: bytes, trailer_json: bytes,
                    version: int = FORMAT_VERSION) -> bytes:
    """What is signed for a segment trailer."""
    return (CTX_TRAILER if version == 1 else CTX2_TRAILER) + header_hash + last_chunk_sig \
        + trailer_json


def event_message(header_hash: bytes, position: int, event_hash: bytes,
                  prev_sig: bytes) -> bytes:
    """What the chunk key signs for an event record (v2): header, the number of chunks
    before it, the event JSON's hash, the predecessor's signature."""
    return CTX2_EVENT + header_hash + struct.pack(">I", position) + event_hash + prev_sig


def manifest_message(manifest_json: bytes, version: int = FORMAT_VERSION) -> bytes:
    """What the device signs for a recording manifest."""
    return (CTX_MANIFEST if version == 1 else CTX2_MANIFEST) + manifest_json


def audit_message(seq: int, entry_hash: bytes) -> bytes:
    """What the device signs for an audit-log checkpoint."""
    return CTX_AUDIT + struct.pack(">Q", seq) + entry_hash
