"""The evidence store on the device: recordings, segments, chain state, recovery.

Layout of the data directory (FORMAT.md §8)::

    device.pub                      the device's public identity (not a pin)
    chain.json                      chain head and last recording number
    recordings/<recording id>/
        recording.json              start values, for recovery after a crash
        events.jsonl                bookmarks and gaps as they happen
        seg-000000.bcs ...          segments (FORMAT.md §5)
        manifest.bcm                signed manifest (FORMAT.md §7)

Nothing here is ever overwritten or deleted: files are created exclusively,
and a recording a crash left open gets a *recovered* manifest describing its
files as they are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evidence import canonical
from evidence.auditlog import AuditLog
from evidence.errors import KeyFileError
from evidence.framing import segment_file_hash
from evidence.fsutil import atomic_write, fsync_dir, write_all
from evidence.identity import DeviceIdentity, device_pub_bytes, parse_device_pub
from evidence.layout import AUDIT_LOG, DEVICE_PUB, EVENTS, RECORDING_INFO, RECORDINGS, segment_name
from evidence.manifest import SegmentEntry, manifest_bytes, manifest_path
from evidence.primitives import (
    DATA_KEY_LEN,
    FORMAT_VERSION_2,
    HPKE_SUITE_NAME,
    NONCE_PREFIX_LEN,
    PAYLOAD_AEAD_NAME,
    Sealer,
    forget,
    hpke_seal,
    sha256,
)
from evidence.reader import scan_segment
from evidence.schema import CONTAINER, ClockSource
from evidence.signer import KeyFileSigner
from recorder.chainstate import load_chain
from recorder.counter import COUNTER_FILE, Counter, FileCounter
from recorder.recovery import recover_store
from recorder.segment_file import Segment


def _us(seconds: float) -> int:
    return int(round(seconds * 1_000_000))


class Recording:
    """One recording in progress. Create through :meth:`EvidenceStore.begin_recording`."""

    def __init__(self, store: EvidenceStore, rec_id: str, seq: int, utc_start_us: int,
                 clock_source: str, start_pts_us: int, start_prev: bytes) -> None:
        self._store = store
        self.id = rec_id
        self.seq = seq
        self.dir = store.recordings_dir / rec_id
        self.utc_start_us = utc_start_us
        self.clock_source = clock_source
        self.start_pts_us = start_pts_us
        self.start_prev = start_prev
        self._segments: list[tuple[int, Path, Segment | None]] = []
        self._open: Segment | None = None
        self._bookmarks: list[dict[str, Any]] = []
        self._gaps: list[dict[str, Any]] = []
        self._events_named = False  # events.jsonl's directory entry is durable
        self._pending_events: list[dict[str, Any]] = []  # not yet signed into a segment
        self.finished = False

    def open_segment(self) -> Segment:
        """Next segment: fresh data key sealed to the custodian; header written, signed, fsync'd."""
        if self.finished:
            raise ValueError(f"recording {self.id} is finished")
        if self._open is not None:
            self.close_segment(self._open)
        store = self._store
        index = len(self._segments)
        path = self.dir / segment_name(index)
        key = bytearray(store.rng(DATA_KEY_LEN))
        prefix = store.rng(NONCE_PREFIX_LEN)
        chunk_key = store.chunk_keys()
        ident = store.identity
        header = {
            "chunk_key": chunk_key.public_raw.hex(),
            "clock_source": self.clock_source,
            "container": CONTAINER,
            "counter": store.counter.next(),
            "counter_kind": store.counter.kind.value,
            "custodian_key_id": ident.custodian_key_id,
            "device_id": ident.device_id,
            "device_key": ident.public_key_raw.hex(),
            "device_key_alg": ident.public.alg.label,
            "format_version": FORMAT_VERSION_2,
            "hpke_suite": HPKE_SUITE_NAME,
            "kind": "segment-header",
            "nonce_prefix": prefix.hex(),
            "opened_utc_us": _us(store.now()),
            "payload_aead": PAYLOAD_AEAD_NAME,
            "prev_hash": store.chain.head.hex(),
            "recording_id": self.id,
            "recording_seq": self.seq,
            "sealed_key": store.sealer(key, ident.custodian_public_key).hex(),
            "segment_index": index,
            "start_pts_us": self.start_pts_us,
            "utc_start_us": self.utc_start_us,
        }
        try:
            seg = Segment(path, index, header, ident.device_signer, chunk_key, key, prefix)
        except OSError:
            store.audit.lost.append(header["counter"])  # said in the next checkpoint
            forget(key)
            self._failed_open(index, path)
            raise
        self._segments.append((index, path, seg))
        self._open = seg
        self._flush_events(seg)
        return seg

    def _flush_events(self, seg: Segment) -> None:
        """Write the events waiting for a segment; a failed write keeps them waiting."""
        while self._pending_events:
            try:
                seg.write_event(self._pending_events[0])
            except (OSError, ValueError):
                return
            self._pending_events.pop(0)

    def _failed_open(self, index: int, path: Path) -> None:
        """The header could not be written. An empty file (the writer cut its partial
        write back) holds nothing and is removed, its index reused; anything else is
        evidence of the failure: listed, and the chain runs through it as it is."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        except OSError:
            size = None
        if size == 0:
            try:
                path.unlink()
                return
            except OSError:
                pass
        self._segments.append((index, path, None))
        try:
            self._store.chain.head = segment_file_hash(path)
        except OSError:
            pass  # unreadable: the verifier reports the break where it is

    def close_segment(self, seg: Segment) -> None:
        """Final chunk, signed trailer, fsync; the data key is dropped even on error."""
        if self._open is seg:
            self._open = None
        if seg.closed:  # closed before (e.g. by open_segment): the chain has moved on
            return
        chain = self._store.chain
        try:
            seg.close(_us(self._store.now()))
        finally:
            if seg.complete:
                chain.head = seg.file_hash()
            else:
                try:
                    chain.head = segment_file_hash(seg.path)
                except OSError:
                    pass
            chain.head_ref = f"{RECORDINGS}/{self.id}/{seg.path.name}"
        chain.save(self._store.data_dir)

    def _event(self, doc: dict[str, Any]) -> None:
        """Sign the event into the open segment (or the next one opened); events.jsonl
        is a cache for people, never read back. Its first line also fsyncs the
        directory, so the cache's name is as durable as its lines."""
        self._pending_events.append(doc)
        if self._open is not None:
            self._flush_events(self._open)
        fd = os.open(self.dir / EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            write_all(fd, canonical.encode(doc) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        if not self._events_named:
            fsync_dir(self.dir)
            self._events_named = True

    def add_bookmark(self, pts_us: int, utc: float, label: str = "") -> None:
        """Mark a moment; kept in events.jsonl at once and in the manifest at the end."""
        mark = {"label": str(label)[:200], "pts_us": int(pts_us), "utc_us": _us(utc)}
        self._bookmarks.append(mark)
        self._event({"kind": "bookmark", **mark})

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None:
        """Record a stretch with no video (camera stall, storage error) and why."""
        gap = {"end_pts_us": int(end_pts_us), "reason": str(reason)[:200],
               "start_pts_us": int(start_pts_us)}
        self._gaps.append(gap)
        self._event({"kind": "gap", **gap})

    def finish(self) -> None:
        """Close any open segment, write the signed manifest, advance the chain."""
        if self.finished:
            return
        if self._open is not None:
            self.close_segment(self._open)
        store = self._store
        entries = []
        for index, path, seg in self._segments:
            if seg is not None and seg.complete:
                first = seg.first_pts_us
                entries.append(SegmentEntry(index, path.name, seg.file_hash(), seg.size, True,
                                            seg.chunks, seg.frames, first, seg.last_pts_us,
                                            seg.payload_bytes))
            else:
                entries.append(SegmentEntry.from_scan(
                    index, scan_segment(path, store.identity.public)))
        fields = self._fields(recovered=False, note="")
        data = manifest_bytes(fields, entries, store.identity.device_signer)
        try:
            store.write_manifest(self.dir, data)
        except OSError:
            store.audit.lost.append(fields["counter"])
            raise
        self.finished = True
        store.checkpoint()
        if store.current is self:
            store.current = None

    def _fields(self, *, recovered: bool, note: str) -> dict[str, Any]:
        ident = self._store.identity
        return {"bookmarks": self._bookmarks, "clock_source": self.clock_source,
                "counter": self._store.counter.next(),
                "counter_kind": self._store.counter.kind.value,
                "device_id": ident.device_id, "device_key": ident.public_key_raw.hex(),
                "device_key_alg": ident.public.alg.label,
                "finished_utc_us": _us(self._store.now()), "gaps": self._gaps, "note": note,
                "recording_id": self.id, "recording_seq": self.seq, "recovered": recovered,
                "start_prev_hash": self.start_prev.hex(), "start_pts_us": self.start_pts_us,
                "utc_start_us": self.utc_start_us}


class EvidenceStore:
    """Writes evidence for one device into ``data_dir``.

    ``rng``, ``now``, ``sealer`` and ``chunk_keys`` are injectable so test
    vectors are reproducible; on a device they are ``os.urandom``, ``time.time``,
    HPKE and a fresh Ed25519 key. The counter is the identity's (a TPM NV
    counter) or, for a key-file identity, a file in the data directory.
    """

    def __init__(self, data_dir: Path, identity: DeviceIdentity, *,
                 rng: Callable[[int], bytes] = os.urandom,
                 now: Callable[[], float] = time.time,
                 sealer: Sealer = hpke_seal,
                 chunk_keys: Callable[[], KeyFileSigner] = KeyFileSigner.generate,
                 audit_clock: Any = None) -> None:
        if not isinstance(identity, DeviceIdentity):
            raise KeyFileError("no device identity: the device will not record without one")
        self.data_dir = Path(data_dir)
        self.identity = identity
        self.rng = rng
        self.now = now
        self.sealer = sealer
        self.chunk_keys = chunk_keys
        self.recordings_dir = self.data_dir / RECORDINGS
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        self._own_device_pub()
        self.counter: Counter = identity.counter or FileCounter(self.data_dir / COUNTER_FILE)
        # The device's audit log: the daemon writes its entries, the store signs a
        # checkpoint at every recording's start and end (FORMAT.md §10).
        self.audit = AuditLog(self.data_dir / AUDIT_LOG, identity.device_signer,
                              clock=audit_clock, counter=self.counter)
        self.chain, note = load_chain(self.data_dir, identity.device_id)
        self._notes = [note] if note else []
        self.current: Recording | None = None
        self.recovered = False
        self.recovery_lines: list[str] = []

    def _own_device_pub(self) -> None:
        """Put device.pub in the data dir; refuse a data dir of another device."""
        ident = self.identity
        path = self.data_dir / DEVICE_PUB
        mine = device_pub_bytes(ident.device_id, ident.public, ident.custodian_key_id,
                                ident.key_store)
        try:
            existing = path.read_bytes()
        except FileNotFoundError:
            atomic_write(path, mine, replace=False)
            return
        try:
            device_id, key = parse_device_pub(existing, str(path))
            same = device_id == ident.device_id and key == ident.public
        except KeyFileError:
            same = False
        if not same:
            raise KeyFileError(f"{path}: this data directory belongs to another device "
                               "identity; use a fresh --data-dir for this device")

    def write_manifest(self, recording_dir: Path, data: bytes) -> None:
        """Write a manifest once (never replaced) and move the chain head to it."""
        path = manifest_path(recording_dir)
        atomic_write(path, data, replace=False)
        self.chain.head = sha256(data)
        self.chain.head_ref = f"{RECORDINGS}/{Path(recording_dir).name}/{path.name}"
        self.chain.save(self.data_dir)

    def begin_recording(self, utc_start: float, clock_source: str,
                        start_pts_us: int) -> Recording:
        """Start a new recording in a new directory (never reuses an existing one)."""
        clock_source = ClockSource(clock_source).value  # ValueError for anything else
        if not self.recovered:
            self.recovery_lines = self.recover()
        if self.current is not None:
            self.current.finish()
        seq = self.chain.recording_seq + 1
        # The id's time is the first frame's UTC as the header states it, to the second.
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(max(0, _us(utc_start)) // 1_000_000))
        while True:
            rec_id = f"{seq:06d}-{stamp}-{self.rng(4).hex()}"
            try:
                (self.recordings_dir / rec_id).mkdir()
                break
            except FileExistsError:
                continue
        rec = Recording(self, rec_id, seq, _us(utc_start), clock_source, int(start_pts_us),
                        self.chain.head)
        try:
            fsync_dir(self.recordings_dir)
            # The number is taken before anything else is written, so a power cut
            # can never hand the same number out twice.
            self.chain.recording_seq = seq
            self.chain.save(self.data_dir)
            atomic_write(rec.dir / RECORDING_INFO, canonical.encode({
                "clock_source": clock_source, "recording_id": rec_id, "recording_seq": seq,
                "start_prev_hash": rec.start_prev.hex(), "start_pts_us": rec.start_pts_us,
                "utc_start_us": rec.utc_start_us}) + b"\n", replace=False)
        except OSError:
            # Storage failed before the recording held anything: leave no empty
            # directory behind (its number stays used).
            try:
                for leftover in rec.dir.iterdir():
                    leftover.unlink(missing_ok=True)
                rec.dir.rmdir()
            except OSError:
                pass
            raise
        self.current = rec
        self.checkpoint()
        return rec

    def checkpoint(self) -> None:
        """A signed audit checkpoint binding the counter, the last recording number and
        the chain head; a failing medium is logged by the caller's next entry, never
        fatal here (the lost counter value shows as a gap, FORMAT.md §9)."""
        try:
            self.audit.checkpoint(self.chain.recording_seq, self.chain.head.hex())
        except OSError:
            pass

    def recover(self) -> list[str]:
        """Close what a crash left open (never deleting or rewriting evidence); fix the chain."""
        lines = list(self._notes)
        self._notes = []
        lines += recover_store(self)
        self.recovered = True
        return lines

