"""The device key and counter inside a TPM 2.0, through tpm2-pytss (the ``tpm`` extra).

The key is an ECDSA P-256 signing key created by the TPM (TPM2_Create under the
owner hierarchy's storage primary, ``fixedTPM | fixedParent |
sensitiveDataOrigin``): its private part leaves the TPM only wrapped by the
primary, which never leaves it, so copying the card copies nothing that signs.
The identity directory holds ``tpm.json``: that wrapped blob, the public area,
and the NV index of the counter. The counter is a TPM NV counter
(TPM2_NT_COUNTER): TPM2_NV_Increment only ever moves it up.

The TPM is the one named by a TCTI string (tpm2-tools style, e.g.
``swtpm:host=127.0.0.1,port=2321`` or ``device:/dev/tpmrm0``): the config key
``identity.tpm_tcti`` if set, else ``BODYCAM_TPM_TCTI``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from pathlib import Path
from typing import Any

from evidence.errors import KeyFileError
from evidence.fsutil import read_regular
from evidence.signer import SigAlg
from recorder.counter import CounterKind

TCTI_ENV = "BODYCAM_TPM_TCTI"
TPM_FILE = "tpm.json"
TPM_FORMAT = "bodycam-tpm-key/1"
#: Owner NV index of the evidence counter (owner range 0x01000000-0x01FFFFFF).
NV_INDEX = 0x01B0DC01
_PRIMARY = "ecc256:aes128cfb"  # tpm2-tools' default storage primary: same seed, same key


class TpmError(KeyFileError):
    """The TPM is missing, unreachable, or refused; one line, what to do."""


def _pytss() -> Any:
    os.environ.setdefault("TSS2_LOG", "all+NONE")  # failures reach the user as TpmError
    try:
        import tpm2_pytss
    except ImportError:
        raise TpmError("tpm2-pytss is not installed: pip install 'bodycam[tpm]' "
                       "(needs Debian's libtss2-dev)") from None
    return tpm2_pytss


def tcti_from(config_value: str | None) -> str:
    """The TCTI to use: the config key if set, else BODYCAM_TPM_TCTI."""
    tcti = (config_value or os.environ.get(TCTI_ENV, "")).strip()
    if not tcti:
        raise TpmError(f"no TPM named: set {TCTI_ENV} (e.g. device:/dev/tpmrm0 or "
                       "swtpm:host=127.0.0.1,port=2321) or identity.tpm_tcti in the config")
    return tcti


class Tpm:
    """One connection to a TPM; calls are serialised (the ESAPI context is not thread-safe)."""

    def __init__(self, tcti: str) -> None:
        t = _pytss()
        self._t = t
        self._lock = threading.Lock()
        try:
            self._ctx = t.ESAPI(tcti)
        except Exception as exc:  # the TSS raises TSS2_Exception, RuntimeError, ...
            raise TpmError(f"cannot reach the TPM at {tcti!r}: {exc}") from None
        self.tcti = tcti
        self._primary: Any = None
        # Without a resource manager (swtpm, /dev/tpm0) transient objects outlive the
        # connection and the TPM has few slots: flush ours when done or collected.
        self._transient: list[Any] = []
        self._finalizer = weakref.finalize(self, _shutdown, self._ctx, self._transient,
                                           self._lock)

    def close(self) -> None:
        """Flush what this connection loaded and close it."""
        self._finalizer()

    def _call(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        with self._lock:
            try:
                return fn(*args, **kw)
            except Exception as exc:
                raise TpmError(f"TPM {what} failed at {self.tcti!r}: {exc}") from None

    def _parent(self) -> Any:
        if self._primary is None:
            t = self._t
            attrs = t.TPMA_OBJECT.DEFAULT_TPM2_TOOLS_CREATEPRIMARY_ATTRS
            handle, *_ = self._call("create primary", self._ctx.create_primary, None,
                                    t.TPM2B_PUBLIC.parse(_PRIMARY, objectAttributes=attrs))
            self._primary = handle
        return self._primary

    def _drop_parent(self) -> None:
        """The primary is needed only to create or load: flush it at once."""
        if self._primary is not None:
            self._call("flush", self._ctx.flush_context, self._primary)
            self._primary = None

    def create_key(self) -> tuple[bytes, bytes]:
        """A new P-256 signing key: (wrapped private blob, public area), both marshalled."""
        t = self._t
        o = t.TPMA_OBJECT
        attrs = (o.FIXEDTPM | o.FIXEDPARENT | o.SENSITIVEDATAORIGIN | o.USERWITHAUTH
                 | o.SIGN_ENCRYPT | o.NODA)
        template = t.TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256", objectAttributes=attrs)
        try:
            private, public, *_ = self._call("create key", self._ctx.create, self._parent(),
                                             None, template)
        finally:
            self._drop_parent()
        return private.marshal(), public.marshal()

    def load_key(self, private: bytes, public: bytes) -> Any:
        """Load a wrapped key; returns its handle."""
        t = self._t
        try:
            priv, _ = t.TPM2B_PRIVATE.unmarshal(private)
            pub, _ = t.TPM2B_PUBLIC.unmarshal(public)
        except Exception:
            raise TpmError("tpm.json holds no TPM key blob; recreate the identity with "
                           "'bodycam keys device --key-store tpm'") from None
        try:
            handle = self._call("load key (is this the TPM the identity was made on?)",
                                self._ctx.load, self._parent(), priv, pub)
        finally:
            self._drop_parent()
        self._transient.append(handle)
        return handle

    def public_point(self, public: bytes) -> bytes:
        """SEC1 uncompressed point (65 bytes) of a marshalled public area."""
        pub, _ = self._t.TPM2B_PUBLIC.unmarshal(public)
        ecc = pub.publicArea.unique.ecc
        return b"\x04" + bytes(ecc.x.buffer).rjust(32, b"\0") + bytes(ecc.y.buffer).rjust(32, b"\0")

    def sign_digest(self, handle: Any, digest: bytes) -> bytes:
        """ECDSA over a SHA-256 digest: r ‖ s, 32 bytes each."""
        t = self._t
        scheme = t.TPMT_SIG_SCHEME(scheme=t.TPM2_ALG.NULL)
        ticket = t.TPMT_TK_HASHCHECK(tag=t.TPM2_ST.HASHCHECK, hierarchy=t.TPM2_RH.NULL)
        sig = self._call("sign", self._ctx.sign, handle, t.TPM2B_DIGEST(digest), scheme, ticket)
        ecdsa = sig.signature.ecdsa
        r, s = bytes(ecdsa.signatureR.buffer), bytes(ecdsa.signatureS.buffer)
        return r.rjust(32, b"\0") + s.rjust(32, b"\0")

    def counter(self, index: int, *, create: bool) -> Any:
        """Handle of the NV counter at ``index``, defining it if asked and absent."""
        t = self._t
        try:
            with self._lock:
                return self._ctx.tr_from_tpmpublic(index)
        except Exception:
            if not create:
                raise TpmError(f"the TPM has no evidence counter at NV index 0x{index:08x}; "
                               "recreate the identity with 'bodycam keys device --key-store "
                               "tpm'") from None
        nv = t.TPMA_NV
        attrs = (nv.OWNERWRITE | nv.OWNERREAD | nv.AUTHREAD | nv.AUTHWRITE | nv.NO_DA
                 | (t.TPM2_NT.COUNTER << nv.TPM2_NT_SHIFT))
        public = t.TPM2B_NV_PUBLIC(nvPublic=t.TPMS_NV_PUBLIC(
            nvIndex=index, nameAlg=t.TPM2_ALG.SHA256, attributes=attrs, authPolicy=b"",
            dataSize=8))
        handle = self._call("define NV counter", self._ctx.nv_define_space, b"", public)
        self._call("increment NV counter", self._ctx.nv_increment, handle)
        return handle

    def read(self, handle: Any) -> int:
        """TPM2_NV_Read of the counter."""
        data = self._call("read NV counter", self._ctx.nv_read, handle, 8, 0)
        return int.from_bytes(bytes(data.buffer), "big")

    def increment(self, handle: Any) -> int:
        """TPM2_NV_Increment, then read: the new value."""
        with self._lock:
            try:
                self._ctx.nv_increment(handle)
                data = self._ctx.nv_read(handle, 8, 0)
            except Exception as exc:
                raise TpmError(f"TPM counter failed at {self.tcti!r}: {exc}") from None
        return int.from_bytes(bytes(data.buffer), "big")


def _shutdown(ctx: Any, transient: list[Any], lock: threading.Lock) -> None:
    with lock:
        for handle in transient:
            try:
                ctx.flush_context(handle)
            except Exception:
                pass
        transient.clear()
        try:
            ctx.close()
        except Exception:
            pass


class TpmSigner:
    """The device key inside the TPM: ECDSA P-256 with SHA-256, r ‖ s."""

    alg = SigAlg.ECDSA_P256_SHA256

    def __init__(self, tpm: Tpm, handle: Any, public_raw: bytes) -> None:
        self._tpm = tpm
        self._handle = handle
        self.public_raw = public_raw

    def sign(self, message: bytes) -> bytes:
        """The TPM signs SHA-256(message)."""
        return self._tpm.sign_digest(self._handle, hashlib.sha256(message).digest())


class TpmCounter:
    """The evidence counter in TPM NV: never goes back."""

    kind = CounterKind.TPM_NV

    def __init__(self, tpm: Tpm, handle: Any) -> None:
        self._tpm = tpm
        self._handle = handle

    def next(self) -> int:
        """Increment in the TPM and return the new value."""
        return self._tpm.increment(self._handle)

    def current(self) -> int:
        """Read the counter without moving it."""
        return self._tpm.read(self._handle)


def create_tpm_key(tcti: str) -> tuple[bytes, bytes]:
    """Make the device key and counter in the TPM: (public point, tpm.json bytes)."""
    tpm = Tpm(tcti)
    try:
        private, public = tpm.create_key()
        tpm.counter(NV_INDEX, create=True)
        point = tpm.public_point(public)
    finally:
        tpm.close()
    doc = {"format": TPM_FORMAT, "nv_index": NV_INDEX, "private": private.hex(),
           "public": public.hex(), "public_point": point.hex()}
    return point, (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()


def load_tpm_key(identity_dir: Path, tcti: str) -> tuple[TpmSigner, TpmCounter]:
    """Open the identity's key and counter in the TPM named by ``tcti``."""
    path = Path(identity_dir) / TPM_FILE
    try:
        doc = json.loads(read_regular(path, 64 * 1024))
        private, public = bytes.fromhex(doc["private"]), bytes.fromhex(doc["public"])
        point, index = bytes.fromhex(doc["public_point"]), int(doc["nv_index"])
        if doc.get("format") != TPM_FORMAT:
            raise ValueError("format")
    except FileNotFoundError:
        raise TpmError(f"{path}: missing (a TPM identity keeps its key blob here)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TpmError(f"{path}: not a bodycam TPM key file ({exc}); recreate the identity "
                       "with 'bodycam keys device --key-store tpm'") from None
    tpm = Tpm(tcti)
    try:
        handle = tpm.load_key(private, public)
    except TpmError as exc:
        tpm.close()
        raise TpmError(f"{path}: {exc.message}") from None
    if tpm.public_point(public) != point:
        raise TpmError(f"{path}: public point does not match the key blob")
    return TpmSigner(tpm, handle, point), TpmCounter(tpm, tpm.counter(index, create=False))
