"""Uploads per second through SftpTransport next to a bare paramiko loop, on loopback.

Run from the repository root: ``.venv/bin/python bench/hrm_transport.py``. It starts the sandbox
SFTP server (asyncssh, 127.0.0.1, random port, temporary directory), encrypts sample HRM files,
and uploads them over one connection each way:

- ours: ``SftpTransport.upload`` (stat the final name, write ``.part`` with every write
  acknowledged, ``posix_rename``): 5 SFTP requests per small file;
- bare: ``SFTPClient.putfo`` to the final name (open, pipelined writes, close, confirming stat):
  4 requests, no protection against half-written files.

Rounds alternate between the two; the best round of each is kept (and the median of the per-round
ratios shown), so a noisy neighbour does not decide the ratio. Everything is bounded by file
counts and stops by itself (about ten seconds).
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paramiko  # noqa: E402

from hrm.crypto import report_encrypt  # noqa: E402
from hrm.report_xml import (  # noqa: E402
    Report,
    ReportFile,
    ReportPatient,
    ReportPerson,
    ReportRecipient,
    ReportText,
    report_build,
)
from hrm.transports import SftpTransport, remote_name_for  # noqa: E402
from sandbox.sftp_server import SandboxSftpServer  # noqa: E402

KEY = "00112233445566778899aabbccddeeff"
ROUNDS = 5
WORKLOADS = {  # name: (content of each report, files per round)
    "letter (text)": (ReportText("Seen today. BP 120/80.\n" * 150), 300),
    "attachment (200 KB PDF)": (ReportFile(b"%PDF-1.7\n" + bytes(range(256)) * 800, ".pdf"), 40),
}


def encrypted_files(content: ReportText | ReportFile, count: int, tag: str) -> list[bytes]:
    files = []
    for number in range(count):
        report = Report(
            patient=ReportPatient("Hélène", "Tremblay", date(1980, 2, 3), "F", "1234567890"),
            author=ReportPerson("Ann", "Lee"),
            recipient=ReportRecipient("D12345", "Raj", "Patel"),
            event_datetime=datetime(2024, 1, 5, 14, 30, tzinfo=UTC),
            sending_facility="1234",
            sending_facility_report_number=f"BENCH-{tag}-{number}",
            transaction_id=f"BENCH-{tag}-{number}-D12345",
            content=content,
        )
        files.append(report_encrypt(report_build(report), KEY))
    return files


def bare_sftp(login) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
    """A plain paramiko connection with the same pinned host key and client key: the baseline."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(login.known_hosts_file))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        login.host,
        login.port,
        username=login.user,
        key_filename=str(login.key_file),
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    return client, client.open_sftp()


def clear(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="hrm-bench-") as workdir,
        SandboxSftpServer(workdir) as server,
    ):
        login = server.login
        ours = SftpTransport(
            login.host,
            login.port,
            login.user,
            login.key_file,
            login.known_hosts_file,
            login.remote_dir,
        )
        bare_client, bare = bare_sftp(login)
        try:
            ours.upload("warm-up.xml.enc", b"x" * 32)  # both connections open before timing
            bare.putfo(io.BytesIO(b"x" * 32), f"{login.remote_dir}/warm-up-bare.xml.enc")
            print(
                f"loopback SFTP server 127.0.0.1:{login.port} (asyncssh), client paramiko "
                f"{paramiko.__version__}; best of {ROUNDS} alternating rounds"
            )
            for workload, (content, count) in WORKLOADS.items():
                best = {"ours": 0.0, "bare": 0.0}
                ratios = []
                for round_number in range(ROUNDS):
                    files = encrypted_files(content, count, f"{workload[:3]}{round_number}")
                    names = [remote_name_for(f"T-{round_number}-{n}") for n in range(count)]
                    clear(server.inbox)
                    started = time.perf_counter()
                    for name, data in zip(names, files, strict=True):
                        ours.upload(name, data)
                    ours_rate = count / (time.perf_counter() - started)
                    clear(server.inbox)
                    started = time.perf_counter()
                    for name, data in zip(names, files, strict=True):
                        bare.putfo(io.BytesIO(data), f"{login.remote_dir}/{name}")
                    bare_rate = count / (time.perf_counter() - started)
                    best = {
                        "ours": max(best["ours"], ours_rate),
                        "bare": max(best["bare"], bare_rate),
                    }
                    ratios.append(ours_rate / bare_rate)
                size = len(files[0])
                print(f"\n{workload}: {size:,} bytes encrypted, {count} files per round")
                print(f"  SftpTransport  {best['ours']:8,.0f} uploads/s")
                print(f"  bare paramiko  {best['bare']:8,.0f} uploads/s")
                ratio, median = best["ours"] / best["bare"], statistics.median(ratios)
                print(
                    f"  ratio          {ratio:8.2f}  (best rounds; median of per-round "
                    f"ratios {median:.2f})"
                )
        finally:
            ours.close()
            bare_client.close()


if __name__ == "__main__":
    main()
