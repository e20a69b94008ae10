"""``bodycam doctor``: the technician's self-test, on the device or on the simulation.

Each check drives the same code the daemon runs (the camera, button and panel
drivers, ``evidence.keys``, the clock) and reports one line, PASS or FAIL,
with what to do about a failure. Exit code 0 only if every check passes, 1 if
any fails, 2 for a usage or configuration error (nothing was checked).

With ``--sim`` the checks run on the simulated hardware (``hw_sim``) on a fast
virtual clock; ``fault`` injects one failure so a test (or a curious
technician) sees the matching line fail. How each fault is made is in
docs/DOCTOR.md.

The camera, GPIO lines and panel can only be tested while the ``bodycam``
service is stopped: it holds them. On a device where the service is active
those lines fail with the command that stops it; the doctor never stops a
camera that may be recording by itself.
"""

from __future__ import annotations

import argparse
import errno
import grp
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.errors import BodycamError
from evidence.fsutil import fsync_dir

from .checklist import SERVICE, SERVICE_USER, Check, Report, failed, passed
from .doctor_hw import (
    CAMERA_SECONDS,
    COLOUR_BARS,
    SIM_PRESS_AT,
    check_camera_and_button,
    check_cues,
    check_panel,
    close_all,
    colour_bars,
    cue_pins,
    hardware_busy,
)

__all__ = ["CAMERA_SECONDS", "COLOUR_BARS", "SIM_PRESS_AT", "Check", "Report", "check_cues",
           "colour_bars", "cue_pins", "diagnose", "failed", "main", "passed"]

#: Faults ``--sim`` can inject (``args.fault``), each failing one line.
FAULTS = ("camera_stall", "storage_full", "storage_readonly", "no_identity", "clock_unsynced",
          "mic_missing")
#: What the service runs with (deploy.sh); the doctor reads it too unless told otherwise.
DEVICE_CONFIG = Path("/etc/bodycam/config.toml")
#: The storage probe: large enough to reach the card, small enough to be quick.
PROBE_BYTES = 256 * 1024
#: Free space below this is a failure even if the probe fits.
MIN_FREE_FLOOR = 64 * 1024 * 1024


# -- storage -----------------------------------------------------------------------------------


def min_free_bytes(conf: dict[str, dict[str, Any]]) -> int:
    """Two segments at the configured bitrate (at least 64 MiB): room to finish a recording."""
    seg = conf["recording"]["segment_seconds"] * conf["camera"]["bitrate"] / 8
    return max(MIN_FREE_FLOOR, int(2 * seg))


def human(n: int) -> str:
    """Bytes for a person: ``1.5 GiB``."""
    if n < 1024:
        return f"{n} bytes"
    size, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.1f} {unit}"


def may_access(mode: int, owner: int, group: int, uid: int, gids: set[int], want: int) -> bool:
    """Whether a user (uid, gids) has the ``want`` bits (4 read, 2 write, 1 exec) by mode."""
    if uid == 0:
        return True
    if owner == uid:
        bits = (mode >> 6) & 7
    elif group in gids:
        bits = (mode >> 3) & 7
    else:
        bits = mode & 7
    return bits & want == want


def _service_user_lacks(path: Path, want: int) -> str | None:
    """If we are root on a device with the service user: why that user cannot use ``path``."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None
    gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if SERVICE_USER in g.gr_mem}
    st = path.stat()
    if may_access(st.st_mode, st.st_uid, st.st_gid, user.pw_uid, gids, want):
        return None
    what = {4: "read", 3: "write in", 1: "enter"}.get(want, "use")
    return (f"the service user '{SERVICE_USER}' cannot {what} {path} "
            f"(owner {st.st_uid}:{st.st_gid}, mode {stat.filemode(st.st_mode)})")


def check_storage(data_dir: Path, conf: dict[str, dict[str, Any]], *, device: bool) -> Check:
    """Write, fsync and remove a probe file in the data directory; enough room left?"""
    need = min_free_bytes(conf)
    if not data_dir.is_dir():
        return failed("storage", f"{data_dir}: no such directory",
                      "run deploy.sh (it creates /var/lib/bodycam) or pass --data-dir")
    probe = data_dir / f".doctor-{os.getpid()}.probe"
    created, free = False, None
    try:
        st = os.statvfs(data_dir)
        free = st.f_bavail * st.f_frsize
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        created = True
        try:
            view = memoryview(os.urandom(PROBE_BYTES))
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(probe)
        created = False
        fsync_dir(data_dir)
    except OSError as e:
        if created:
            try:
                os.unlink(probe)
            except OSError:
                pass
        reason = e.strerror or str(e)
        if e.errno == errno.ENOSPC:
            left = "" if free is None else f"; {human(free)} free"
            return failed("storage", f"{data_dir}: full ({reason}{left})",
                          "offload the evidence at the dock; never delete evidence by hand")
        if e.errno == errno.EROFS:
            return failed("storage", f"{data_dir}: not writable ({reason})",
                          "the card went read-only (file system errors): check 'dmesg', run fsck "
                          "or replace the card")
        if e.errno in (errno.EACCES, errno.EPERM):
            return failed("storage", f"{data_dir}: not writable ({reason})",
                          f"run the doctor as root or as '{SERVICE_USER}'; deploy.sh sets the owner")
        return failed("storage", f"{data_dir}: writing a probe failed ({reason})",
                      "check 'dmesg' for I/O errors; replace the card if they repeat")
    if free < need:
        return failed("storage", f"{data_dir}: only {human(free)} free, need {human(need)} "
                      "(two segments at the configured bitrate)",
                      "offload the evidence at the dock; never delete evidence by hand")
    if device:
        problem = _service_user_lacks(data_dir, 3)
        if problem:
            return failed("storage", problem, f"chown -R {SERVICE_USER}: {data_dir} (deploy.sh does)")
    return passed("storage", f"{data_dir}: writable (probe written, fsync'd, removed); "
                  f"{human(free)} free")


# -- keys, clock, service ----------------------------------------------------------------------


def check_identity(identity_dir: Path, *, device: bool, tcti: str | None = None) -> Check:
    """The device identity loads (``evidence.keys.load_identity``: the key, in a TPM
    or a file, and custodian.pub matching the identity): the daemon may record."""
    from evidence import keys
    from evidence.errors import KeyFileError
    from evidence.primitives import key_id, x25519_raw
    from evidence.signer import FILE_KEY_WARNING, KeyStore, sign2

    try:
        ident = keys.load_identity(identity_dir, tcti)
    except KeyFileError as e:
        return failed("identity", e.message,
                      "provision the device: deploy.sh --device-id ID --custodian-pub FILE")
    if device:
        secret = keys.DEVICE_KEY if ident.key_store is KeyStore.FILE else "tpm.json"
        problem = (_service_user_lacks(identity_dir, 1)
                   or _service_user_lacks(identity_dir / secret, 4))
        if problem:
            return failed("identity", problem, "run deploy.sh again (it sets root:bodycam 0640)")
    probe = b"bodycam doctor probe"
    try:  # the key must sign, and what it signs must verify (a TPM that answers wrongly fails)
        ok = ident.public.verify2(sign2(ident.device_signer, probe), probe)
    except KeyFileError as e:
        return failed("identity", e.message, "check the TPM (BODYCAM_TPM_TCTI) and the identity")
    if not ok:
        return failed("identity", "the device key's signature does not verify with device.pub",
                      "recreate the identity with 'bodycam keys device'")
    kid = key_id(x25519_raw(ident.custodian_public_key))
    where = ("key inside the TPM (ECDSA P-256, not exportable)"
             if ident.key_store is KeyStore.TPM else f"WARNING: {FILE_KEY_WARNING}")
    return passed("identity", f"device {ident.device_id} in {identity_dir}; "
                  f"custodian key {kid[:16]}; {where}")


def check_clock(clock: Any) -> Check:
    """Where wall time comes from: footage needs a trustworthy time stamp."""
    source = clock.source()
    now = datetime.fromtimestamp(clock.time(), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if source == "unsynced":
        return failed("clock", f"unsynced ({now}): recordings would carry an untrusted time",
                      "connect the device to a network with NTP, or fit an RTC battery")
    return passed("clock", f"{source} ({now})")


def check_service(sim: bool) -> tuple[Check, bool]:
    """(line, whether the service is running and so holds the camera and lines)."""
    if sim:
        return passed("service", "skipped (simulation)"), False
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return failed("service", "cannot check: systemctl not found",
                      "the device runs the service under systemd; install with deploy.sh"), False

    def ask(verb: str) -> tuple[str, str]:
        try:
            out = subprocess.run([systemctl, verb, SERVICE], capture_output=True, text=True,
                                 timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as e:
            return "", str(e)
        first = (out.stdout.strip().splitlines() or [""])[0]
        return first, " ".join(out.stderr.split())

    (enabled, err), (active, _) = ask("is-enabled"), ask("is-active")
    if enabled == "not-found" or "No such file" in err:
        return failed("service", "not installed", "install with deploy.sh"), False
    if not enabled:
        return failed("service", f"cannot ask systemd ({err or 'no answer'})",
                      "is this the device? the service runs under systemd"), False
    state = f"{enabled}, {active or 'unknown'}"
    if active == "failed":
        return failed("service", state, f"see 'journalctl -u {SERVICE}'; then "
                      f"'systemctl restart {SERVICE}'"), False
    if enabled != "enabled":
        return failed("service", state, f"systemctl enable --now {SERVICE} (deploy.sh does)"), \
            active == "active"
    if active == "active":
        return passed("service", state), True
    return passed("service", f"{state} (start it again after the doctor: "
                  f"systemctl start {SERVICE})"), False


# -- assembly ----------------------------------------------------------------------------------


@contextmanager
def _simulation(conf: dict[str, dict[str, Any]], fault: str | None) -> Iterator[Any]:
    """The simulated device ``bodycam run --sim`` uses, with the fault injected."""
    from .run import simulated_device

    with simulated_device(conf, fast=True) as world:
        if fault == "clock_unsynced":
            world.clock.set_source("unsynced")
        elif fault == "camera_stall":  # the sensor delivers nothing from now on
            world.stall_camera(CAMERA_SECONDS * 10, at=world.clock.monotonic())
        elif fault == "storage_full":
            world.inject_fault("storage_full", free_bytes=0)
        elif fault == "storage_readonly":
            world.inject_fault("storage_readonly")
        elif fault == "mic_missing":
            world.mic_fail()
        yield world


def _effective_args(args: argparse.Namespace) -> argparse.Namespace:
    """On the device, without --config, read the file the service runs with (if there is one)."""
    out = argparse.Namespace(**vars(args))
    if not args.sim and args.config is None and DEVICE_CONFIG.is_file():
        out.config = DEVICE_CONFIG
    return out


def diagnose(args: argparse.Namespace) -> Report:
    """Run every check; raises :class:`BodycamError` for usage or configuration errors."""
    from .run import load_config

    sim, fault = bool(args.sim), getattr(args, "fault", None)
    if fault is not None and not sim:
        raise BodycamError("a fault can only be injected with --sim; add --sim to test the "
                           "simulated device")
    if fault is not None and fault not in FAULTS:
        raise BodycamError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
    args = _effective_args(args)
    conf = load_config(args)
    checks = [passed("config", str(args.config) if args.config else "defaults (no --config)")]
    data_dir = Path(conf["storage"]["data_dir"])
    identity_dir = Path(conf["identity"]["dir"])
    # A missing data directory is judged before the simulated medium, which makes its root.
    missing_dir = None if data_dir.is_dir() else check_storage(data_dir, conf, device=not sim)
    with ExitStack() as stack:
        service, busy = check_service(sim)
        world = stack.enter_context(_simulation(conf, fault)) if sim else None
        if world is not None:
            clock: Any = world.clock
            if fault == "no_identity":  # a directory that really holds no identity
                identity_dir = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "identity"
        else:
            from drivers.clock import SystemClock

            clock = SystemClock()
        checks.append(check_clock(clock))
        checks.append(check_identity(identity_dir, device=not sim,
                                     tcti=conf["identity"].get("tpm_tcti") or None))
        checks.append(missing_dir or check_storage(data_dir, conf, device=not sim))
        if busy:
            checks.extend(hardware_busy())
        else:
            panels: list[Any] = []
            # Closed after the other checks: the colour bars stay up meanwhile.
            stack.callback(close_all, panels)
            checks.append(check_panel(conf, world, panels.append))
            checks.extend(check_camera_and_button(conf, clock, world))
            checks.append(check_cues(conf))
            from .doctor_mic import check_microphone  # late: it imports this module

            checks.append(check_microphone(conf, clock))
        checks.append(service)
    return Report(checks, sim, fault, str(args.config) if args.config else None)


def main(args: argparse.Namespace) -> int:
    """``bodycam doctor``: print the checklist; 0 all pass, 1 a check failed, 2 usage/config."""
    try:
        report = diagnose(args)
    except BodycamError as e:
        print(f"bodycam: {e.message}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else "\n".join(report.text_lines()))
    return report.exit_code
