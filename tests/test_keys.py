"""Key files: custodian pair, device identity, and the refusals that keep keys in place."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from evidence import keys
from evidence.errors import KeyFileError
from recorder.store import EvidenceStore


def test_custodian_pair(tmp_path: Path) -> None:
    priv, pub = keys.create_custodian(tmp_path / "office")
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in priv.read_bytes() and b"PUBLIC KEY" in pub.read_bytes()
    private = keys.load_custodian_private(priv)
    public = keys.load_custodian_public(pub)
    assert private.public_key().public_bytes_raw() == public.public_bytes_raw()
    assert "never" in keys.CUSTODIAN_WARNING.lower()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        keys.create_custodian(tmp_path / "office")


def test_device_identity(tmp_path: Path) -> None:
    _, pub = keys.create_custodian(tmp_path / "office")
    files = keys.create_device("CAM-0007", pub, tmp_path / "cam")
    assert stat.S_IMODE(files.device_key.stat().st_mode) == 0o600
    ident = keys.load_identity(tmp_path / "cam")
    assert ident.device_id == "CAM-0007"
    device_id, key = keys.load_device_pub(files.device_pub)
    assert device_id == "CAM-0007" and key.raw == ident.public_key_raw
    store = EvidenceStore(tmp_path / "data", ident)
    assert (tmp_path / "data" / "device.pub").read_bytes() == files.device_pub.read_bytes()
    assert store.identity is ident


def test_custodian_private_key_never_goes_on_a_device(tmp_path: Path) -> None:
    priv, pub = keys.create_custodian(tmp_path / "office")
    with pytest.raises(KeyFileError, match="PRIVATE key"):
        keys.create_device("CAM-1", priv, tmp_path / "cam")
    keys.create_device("CAM-1", pub, tmp_path / "cam")
    (tmp_path / "cam" / "custodian.key").write_bytes(priv.read_bytes())
    with pytest.raises(KeyFileError, match="must never be on a device"):
        keys.load_identity(tmp_path / "cam")
    (tmp_path / "cam" / "custodian.key").unlink()
    (tmp_path / "cam" / "custodian.pub").write_bytes(priv.read_bytes())
    with pytest.raises(KeyFileError, match="PRIVATE key"):
        keys.load_identity(tmp_path / "cam")


def test_fail_closed_without_custodian_pub(tmp_path: Path) -> None:
    _, pub = keys.create_custodian(tmp_path / "office")
    keys.create_device("CAM-1", pub, tmp_path / "cam")
    (tmp_path / "cam" / "custodian.pub").unlink()
    with pytest.raises(KeyFileError, match="will not record"):
        keys.load_identity(tmp_path / "cam")


@pytest.mark.parametrize("name,content", [
    ("device.key", b"not a key"),
    ("device.pub", b"{}"),
    ("device.pub", b"\xff\xfe garbage"),
    ("custodian.pub", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
])
def test_damaged_identity_files_give_one_line(tmp_path: Path, name: str, content: bytes) -> None:
    _, pub = keys.create_custodian(tmp_path / "office")
    keys.create_device("CAM-1", pub, tmp_path / "cam")
    (tmp_path / "cam" / name).write_bytes(content)
    with pytest.raises(KeyFileError) as err:
        keys.load_identity(tmp_path / "cam")
    assert "\n" not in str(err.value) and name in str(err.value)
    assert err.value.exit_code == 2


def test_mixed_up_identity(tmp_path: Path) -> None:
    _, pub = keys.create_custodian(tmp_path / "office")
    keys.create_device("CAM-1", pub, tmp_path / "a")
    keys.create_device("CAM-2", pub, tmp_path / "b")
    (tmp_path / "a" / "device.pub").write_bytes((tmp_path / "b" / "device.pub").read_bytes())
    with pytest.raises(KeyFileError, match="does not match"):
        keys.load_identity(tmp_path / "a")


def test_bad_inputs(tmp_path: Path) -> None:
    _, pub = keys.create_custodian(tmp_path / "office")
    with pytest.raises(KeyFileError, match="invalid device id"):
        keys.create_device("../evil", pub, tmp_path / "cam")
    with pytest.raises(KeyFileError, match="no such file"):
        keys.load_custodian_private(tmp_path / "nope")
    with pytest.raises(KeyFileError, match="no such identity"):
        keys.load_identity(tmp_path / "nope")
    with pytest.raises(KeyFileError, match="not an X25519 private key|not an unencrypted"):
        keys.load_custodian_private(pub)
