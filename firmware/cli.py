"""``bodycam``: the command line (run the daemon, make keys, verify and export evidence).

Exit codes, the same for every subcommand (see docs/CLI.md):

- 0: success (``verify``: everything intact)
- 1: an integrity problem in evidence, or the daemon ended in a fault
- 2: usage or input error (bad flag, config, scenario, key file, path)
- 3: ``verify``/``export``: evidence incomplete (power loss) but untampered

User mistakes never print a traceback: every :class:`BodycamError` becomes one
line on stderr naming the problem and what to do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from evidence.errors import BodycamError

from . import __version__

log = logging.getLogger("bodycam")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every input error
        self.exit(2, f"bodycam: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; flags may grow, the ones in DESIGN.md stay."""
    p = _Parser(prog="bodycam", description="Body-worn camera firmware and evidence tools.")
    p.add_argument("--version", action="version", version=f"bodycam {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run the camera daemon (on the device, or --sim)")
    r.add_argument("--config", type=Path, help="TOML configuration (docs/CONFIG.md)")
    r.add_argument("--sim", action="store_true", help="run on the simulated hardware")
    r.add_argument("--scenario", type=Path, help="scenario TOML for --sim (docs/SIMULATION.md)")
    r.add_argument("--fast", action="store_true", help="--sim: run on a virtual clock, fast")
    r.add_argument("--board", choices=("pi4", "pi5"),
                   help="--sim: which Raspberry Pi to simulate (default: the scenario's, else pi5)")
    r.add_argument("--duration", type=float, help="stop after this many seconds")
    r.add_argument("--data-dir", type=Path, help="evidence directory (overrides storage.data_dir)")
    r.add_argument("--identity", type=Path, help="device identity directory (overrides identity.dir)")
    r.add_argument("--display-out", type=Path, help="--sim: write the front panel's frames here")
    r.add_argument("--storage-trace", type=Path,
                   help="--sim: write every operation on the simulated medium here (JSON lines)")
    r.add_argument("--verbose", "-v", action="store_true", help="log debug detail")

    k = sub.add_parser("keys", help="create custodian or device keys")
    ksub = k.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    kc = ksub.add_parser("custodian", help="the evidence office's X25519 key pair")
    kc.add_argument("--out", type=Path, required=True)
    kd = ksub.add_parser("device", help="a device identity (Ed25519) bound to a custodian key")
    kd.add_argument("--device-id", required=True)
    kd.add_argument("--custodian-pub", type=Path, required=True)
    kd.add_argument("--out", type=Path, required=True)
    kd.add_argument("--key-store", choices=("file", "tpm"), default="file",
                    help="tpm: an ECDSA P-256 key made inside the TPM named by BODYCAM_TPM_TCTI "
                    "(never leaves it); file: an Ed25519 key file (development and demo only)")

    v = sub.add_parser("verify", help="check evidence: signatures, chains, completeness",
                       description="Check every recording and the audit log under DIR without "
                       "any decryption key. Exit 0 all intact, 1 integrity problem, 2 usage or "
                       "input error, 3 incomplete (power loss) but untampered, 4 identity not established "
                       "(no --device-pub).")
    v.add_argument("dir", type=Path, help="a device's offloaded data directory")
    v.add_argument("--device-pub", type=Path, action="append", default=[],
                   help="the device.pub registered for the camera (repeat for several "
                   "cameras); without it the identity is not independently pinned")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.add_argument("--receipt-out", type=Path, help="write what was verified (device, last "
                   "recording, counter, chain and audit heads): the anchor for --since")
    v.add_argument("--since", type=Path, help="a receipt from an earlier verify: prove that "
                   "everything after it is present and continuous")

    rp = sub.add_parser("report", help="a self-contained HTML page on what happened to each "
                        "recording (docs/CLI.md)")
    rp.add_argument("dir", type=Path, help="a device's offloaded data directory (or a folder "
                    "of them)")
    rp.add_argument("--device-pub", type=Path, action="append", default=[], required=True,
                    help="the device.pub registered for the camera (repeat for several)")
    rp.add_argument("--custodian-key", type=Path,
                    help="custodian.key: also decrypt frames for thumbnails")
    rp.add_argument("--out", type=Path, required=True,
                    help="folder for <name>-report.html and <name>-report.json")

    e = sub.add_parser("export", help="decrypt and join recordings into MP4 files",
                       description="Verify DIR, then decrypt each recording into one MP4 "
                       "(H.264 copied, not re-encoded) with a JSON sidecar. Exit codes as "
                       "verify's.")
    e.add_argument("dir", type=Path, help="a device's offloaded data directory")
    e.add_argument("--custodian-key", type=Path, required=True,
                   help="custodian.key, the evidence office's private key")
    e.add_argument("--out", type=Path, required=True,
                   help="folder for <device>_<recording>.mp4 and .json (created if missing; "
                   "earlier exports there are kept)")
    e.add_argument("--device-pub", type=Path, action="append", default=[],
                   help="the device.pub registered for the camera (repeat for several)")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.add_argument("--force", action="store_true",
                   help="export even what fails verification (only the parts whose "
                   "signatures verify; the sidecar says so)")

    d = sub.add_parser("doctor", help="self-test: camera, panel, lines, storage, keys, clock, service")
    d.add_argument("--sim", action="store_true", help="test the simulated device")
    d.add_argument("--json", action="store_true")
    d.add_argument("--config", type=Path, help="configuration (default: the service's, if present)")
    d.add_argument("--data-dir", type=Path, help="evidence directory to probe")
    d.add_argument("--identity", type=Path, help="device identity directory to check")
    d.add_argument("--fault", help="--sim: inject a fault (camera_stall, storage_full, "
                   "storage_readonly, no_identity, clock_unsynced) and see its line fail")
    return p


class _JournalFormatter(logging.Formatter):
    """``<priority>name: message``: journald reads the prefix as the syslog level."""

    PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        return f"<{self.PRIORITY.get(record.levelno, 6)}>{super().format(record)}"


def _setup_logging(verbose: bool) -> None:
    # journald adds its own time stamps. Under systemd (JOURNAL_STREAM set) a
    # <priority> prefix sets each line's level; on a terminal the level is spelled out.
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("libav").setLevel(logging.ERROR)


def _cmd_keys(args: argparse.Namespace) -> int:
    from evidence import keys
    from evidence.signer import FILE_KEY_WARNING

    if args.kind == "custodian":
        priv, pub = keys.create_custodian(args.out)
        print(f"custodian private key: {priv} (mode 0600)")
        print(f"custodian public key:  {pub}")
        print("Keep the private key in the evidence office. It must NEVER be copied to a device;")
        print("give devices only the public key.")
    else:
        store = keys.KeyStore(args.key_store)
        paths = keys.create_device(args.device_id, args.custodian_pub, args.out, store)
        for path in paths[1:]:
            print(f"wrote {path}")
        if store is keys.KeyStore.TPM:
            print("The device key was made inside the TPM and cannot leave it; tpm.json holds "
                  "only its wrapped blob.")
        else:
            print(f"WARNING: {FILE_KEY_WARNING}")
        print(f"Register {args.out / 'device.pub'} with the evidence office for device {args.device_id}.")
    return 0


def _report(report, as_json: bool) -> int:
    if as_json:
        print(report.to_json())
    else:
        for line in report.text_lines():
            print(line)
    return report.exit_code


def _cmd_verify(args: argparse.Namespace) -> int:
    from office.verify import verify_tree

    report = verify_tree(args.dir, args.device_pub, args.since)
    code = _report(report, args.json)
    if args.receipt_out is not None:
        from evidence.errors import EXIT_INCOMPLETE, EXIT_OK, BodycamError
        if code not in (EXIT_OK, EXIT_INCOMPLETE) or report.receipt is None:
            raise BodycamError(f"{args.receipt_out}: no receipt written: only evidence that "
                               "verified against a pinned --device-pub gets one", exit_code=code)
        from evidence.fsutil import write_new_file
        write_new_file(args.receipt_out, report.receipt.to_bytes())
        print(f"receipt written to {args.receipt_out}", file=sys.stderr)
    return code


def _cmd_export(args: argparse.Namespace) -> int:
    from office.export import export_tree
    from office.progress import Progress

    return _report(export_tree(args.dir, args.custodian_key, args.out, args.device_pub,
                               args.force, Progress.on_terminal()), args.json)


def _cmd_report(args: argparse.Namespace) -> int:
    from office.progress import Progress
    from office.report import report_tree

    run = report_tree(args.dir, args.device_pub, args.custodian_key, args.out,
                      Progress.on_terminal())
    for line in run.text_lines():
        print(line)
    return run.exit_code


def _cmd_run(args: argparse.Namespace) -> int:
    from .run import run

    _setup_logging(args.verbose)
    summary = run(args)
    assert summary is not None
    cue_lines = summary.pop("cue_timeline", None)
    if cue_lines:
        print("Cues the officer saw, heard and felt (scenario time):")
        print("\n".join(cue_lines))
    print(json.dumps(summary, indent=2))
    return 0 if summary["final_state"] != "fault" else 1


def _cmd_doctor(args: argparse.Namespace) -> int:
    from . import doctor

    return doctor.main(args)


#: What Ctrl-C leaves behind, per command (export says it itself).
_LEFT = {"verify": "nothing was written", "keys": "no key file is left half-written",
         "report": "pages already written are whole; none is half-written",
         "doctor": "its probe file is removed; nothing else was written"}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bodycam`` console script."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # ``bodycam`` alone: what it can do, not an error about a missing word
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    handlers = {"run": _cmd_run, "keys": _cmd_keys, "verify": _cmd_verify, "export": _cmd_export,
                "report": _cmd_report,
                "doctor": _cmd_doctor}
    try:
        return handlers[args.command](args)
    except BodycamError as e:
        print(f"bodycam: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        left = _LEFT.get(args.command)
        if left:
            print(f"bodycam: interrupted; {left}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
