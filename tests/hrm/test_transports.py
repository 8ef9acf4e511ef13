"""Transports against a real SFTP server on loopback (asyncssh, in-process) and a real folder.

Nothing is mocked: faults come from the sandbox server's switches (sandbox/sftp_server.py).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import asyncssh
import paramiko
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrm.crypto import report_decrypt, report_encrypt
from hrm.report_xml import ReportFile, report_build, report_validate
from hrm.transports import (
    FolderTransport,
    Probe,
    SftpTimeouts,
    TransportError,
    UploadResult,
    remote_name_for,
)
from sandbox.reading import hrm_file_read

from .conftest import transport_for

KEY = "8f3c2a1b9d4e5f60718293a4b5c6d7e8"
DATA = b"\x00encrypted report\xff" * 300  # 5.4 KB, like an encrypted text report


def uploaded_names(server) -> list[str]:
    return sorted(path.name for path in server.inbox.iterdir())


def transport_error(upload) -> TransportError:
    with pytest.raises(TransportError) as caught:
        upload()
    return caught.value


# --- remote names -------------------------------------------------------------------------------


def test_a_safe_transaction_id_is_the_file_name():
    assert remote_name_for("MSG-42-TEXT-D12345") == "MSG-42-TEXT-D12345.xml.enc"


def test_unsafe_characters_are_replaced_and_a_hash_keeps_names_apart():
    caret = remote_name_for("20240105^MSG-42^1234^MR")
    underscore = remote_name_for("20240105_MSG-42_1234_MR")
    assert caret.startswith("20240105_MSG-42_1234_MR_") and caret.endswith(".xml.enc")
    assert underscore == "20240105_MSG-42_1234_MR.xml.enc"
    traversal = remote_name_for("../../etc/passwd")
    assert traversal.startswith("___.._etc_passwd_") and "/" not in traversal
    assert remote_name_for(".hidden")[0] == "_"
    long_name = remote_name_for("A" * 250)
    assert len(long_name) == 150 + 1 + 12 + len(".xml.enc")
    assert remote_name_for("A" * 250) != remote_name_for("A" * 249)


def test_an_empty_transaction_id_cannot_name_a_file():
    with pytest.raises(ValueError, match="Transaction ID"):
        remote_name_for("  ")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(min_size=1, max_size=260).filter(str.strip), min_size=2, max_size=2, unique=True
    )
)
def test_distinct_transaction_ids_get_distinct_usable_names(tmp_path_factory, ids):
    names = [remote_name_for(transaction_id) for transaction_id in ids]
    assert names[0] != names[1]
    assert names == [remote_name_for(transaction_id) for transaction_id in ids]  # stable
    for name in names:
        assert len(name.encode()) + len(".part") <= 255
    folder = tmp_path_factory.mktemp("names")
    assert FolderTransport(folder).upload(names[0], b"x") == UploadResult.UPLOADED


@pytest.mark.parametrize(
    "bad", ["../x.xml.enc", "a/b.xml.enc", ".x.xml.enc", "x.xml.enc.part", "", "a b.xml.enc"]
)
def test_upload_refuses_names_that_are_not_plain_file_names(tmp_path, bad):
    with pytest.raises(ValueError, match="not a plain file name"):
        FolderTransport(tmp_path).upload(bad, b"x")


# --- folder -------------------------------------------------------------------------------------


def test_folder_upload_is_idempotent_and_leaves_no_part(tmp_path):
    transport = FolderTransport(tmp_path)
    assert transport.upload("a.xml.enc", DATA) == UploadResult.UPLOADED
    assert transport.upload("a.xml.enc", b"other") == UploadResult.ALREADY_PRESENT
    assert (tmp_path / "a.xml.enc").read_bytes() == DATA
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xml.enc"]


def test_folder_part_file_never_counts_as_delivered(tmp_path):
    (tmp_path / "a.xml.enc.part").write_bytes(DATA)
    assert FolderTransport(tmp_path).upload("a.xml.enc", DATA) == UploadResult.UPLOADED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xml.enc"]


def test_folder_that_does_not_exist_is_a_refusal(tmp_path):
    error = transport_error(lambda: FolderTransport(tmp_path / "nope").upload("a.xml.enc", DATA))
    assert error.refusal and not error.permanent and "does not exist" in error.message
    (tmp_path / "file").write_text("")
    error = transport_error(lambda: FolderTransport(tmp_path / "file").upload("a.xml.enc", DATA))
    assert error.refusal


# --- SFTP: delivery -----------------------------------------------------------------------------


def emr_poll(server) -> dict[str, bytes]:
    """Download and delete every file, as an EMR polling its HRM folder does."""
    login = server.login
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
        timeout=5,
    )
    try:
        sftp = client.open_sftp()
        files = {}
        for name in sftp.listdir(login.remote_dir):
            path = f"{login.remote_dir}/{name}"
            with sftp.open(path, "rb") as remote:
                files[name] = remote.read()
            sftp.remove(path)
        return files
    finally:
        client.close()


def test_round_trip_build_encrypt_upload_download_decrypt_parse(
    sftp_server, sftp_transport, make_report, make_pdf_report, hrm_schema
):
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 400  # 100 KB: several pipelined SFTP writes
    reports = [
        make_report(),
        make_pdf_report(content=ReportFile(pdf, ".pdf")),
        make_report(recipient={"professional_id": "N1234567"}, transaction_id="MSG-42-TEXT-N12"),
    ]
    for report in reports:
        name = remote_name_for(report.transaction_id)
        encrypted = report_encrypt(report_build(report), KEY)
        assert sftp_transport.upload(name, encrypted) == UploadResult.UPLOADED

    downloaded = emr_poll(sftp_server)
    assert sorted(downloaded) == sorted(remote_name_for(r.transaction_id) for r in reports)
    assert uploaded_names(sftp_server) == []
    for report in reports:
        xml = report_decrypt(downloaded[remote_name_for(report.transaction_id)], KEY)
        assert xml == report_build(report)
        report_validate(xml, hrm_schema)
        parsed = hrm_file_read(xml)
        assert parsed.message_unique_id == report.transaction_id
        assert parsed.deliver_to_user_id == report.recipient.professional_id
        assert parsed.patient_first_name == "Hélène"
    assert (
        hrm_file_read(
            report_decrypt(downloaded[remote_name_for(reports[1].transaction_id)], KEY)
        ).file_data
        == pdf
    )


def test_one_connection_is_reused_across_uploads(sftp_server, sftp_transport):
    for number in range(5):
        assert sftp_transport.upload(f"r{number}.xml.enc", DATA) == UploadResult.UPLOADED
    assert sftp_server.connections_made == 1
    assert len(uploaded_names(sftp_server)) == 5


def test_re_upload_of_a_delivered_file_is_already_present(sftp_server, sftp_transport):
    assert sftp_transport.upload("r.xml.enc", DATA) == UploadResult.UPLOADED
    assert sftp_transport.upload("r.xml.enc", b"anything") == UploadResult.ALREADY_PRESENT
    assert (sftp_server.inbox / "r.xml.enc").read_bytes() == DATA
    assert uploaded_names(sftp_server) == ["r.xml.enc"]


def test_an_upload_that_cannot_have_been_delivered_before_does_not_ask(sftp_server, sftp_transport):
    # A report's first attempt: no earlier attempt can have left the file, so no stat; were it
    # there after all, the rename puts the same file in its place.
    assert sftp_transport.upload("r.xml.enc", b"old", may_be_delivered=False) == "uploaded"
    assert sftp_transport.upload("r.xml.enc", DATA, may_be_delivered=False) == "uploaded"
    assert (sftp_server.inbox / "r.xml.enc").read_bytes() == DATA
    assert uploaded_names(sftp_server) == ["r.xml.enc"]


def test_a_part_file_never_counts_as_delivered(sftp_server, sftp_transport):
    (sftp_server.inbox / "r.xml.enc.part").write_bytes(DATA)  # a complete-looking leftover
    assert sftp_transport.upload("r.xml.enc", DATA + b"!") == UploadResult.UPLOADED
    assert (sftp_server.inbox / "r.xml.enc").read_bytes() == DATA + b"!"
    assert uploaded_names(sftp_server) == ["r.xml.enc"]


def test_a_large_file_arrives_intact(sftp_server, sftp_transport):
    big = bytes(range(256)) * 12_000  # 3 MB, about 94 SFTP write requests
    assert sftp_transport.upload("big.xml.enc", big) == UploadResult.UPLOADED
    assert (sftp_server.inbox / "big.xml.enc").read_bytes() == big


def test_close_is_idempotent_and_the_transport_reconnects_after_it(sftp_server, sftp_transport):
    sftp_transport.upload("a.xml.enc", DATA)
    sftp_transport.close()
    sftp_transport.close()
    assert sftp_transport.upload("b.xml.enc", DATA) == UploadResult.UPLOADED
    assert sftp_server.connections_made == 2


# --- SFTP: dropped connections ------------------------------------------------------------------


def test_reconnects_once_when_the_kept_connection_was_closed_by_the_server(
    sftp_server, sftp_transport
):
    sftp_transport.upload("a.xml.enc", DATA)
    sftp_server.disconnect_all()  # like an idle-session timeout
    assert sftp_transport.upload("b.xml.enc", DATA) == UploadResult.UPLOADED
    assert sftp_server.connections_made == 2


def test_a_reconnect_after_a_rename_whose_reply_was_lost_does_not_upload_again(
    sftp_server, sftp_transport
):
    sftp_transport.upload("a.xml.enc", DATA)  # the connection is kept
    sftp_server.drop_after_rename = True  # the rename happens; its reply never comes
    result = sftp_transport.upload("r.xml.enc", DATA, may_be_delivered=False)
    assert result == UploadResult.ALREADY_PRESENT  # looked before writing again
    assert sftp_server.connections_made == 2
    assert uploaded_names(sftp_server) == ["a.xml.enc", "r.xml.enc"]
    assert (sftp_server.inbox / "r.xml.enc").read_bytes() == DATA


def test_a_rename_whose_reply_was_lost_says_its_outcome_is_unknown(sftp_server, sftp_transport):
    sftp_transport.stage("r.xml.enc", DATA)
    sftp_server.drop_after_rename = True
    error = transport_error(lambda: sftp_transport.promote("r.xml.enc"))
    assert not error.permanent and error.rename_unknown
    assert "dropped while trying to rename r.xml.enc" in error.message
    assert "the retry will look for the file first" in error.message
    assert sftp_transport.probe("r.xml.enc", len(DATA)) == Probe.DELIVERED


def test_probe_tells_delivered_staged_partial_and_absent(sftp_server, sftp_transport):
    assert sftp_transport.probe("r.xml.enc", len(DATA)) == Probe.ABSENT
    (sftp_server.inbox / "r.xml.enc.part").write_bytes(DATA[:100])
    assert sftp_transport.probe("r.xml.enc", len(DATA)) == Probe.PARTIAL
    sftp_transport.stage("r.xml.enc", DATA)
    assert sftp_transport.probe("r.xml.enc", len(DATA)) == Probe.STAGED
    sftp_transport.promote("r.xml.enc")
    assert sftp_transport.probe("r.xml.enc", len(DATA)) == Probe.DELIVERED
    assert uploaded_names(sftp_server) == ["r.xml.enc"]


def test_discard_removes_a_part_and_ignores_one_that_is_gone(sftp_server, sftp_transport):
    sftp_transport.stage("r.xml.enc", DATA)
    sftp_transport.discard("r.xml.enc")
    sftp_transport.discard("r.xml.enc")
    assert uploaded_names(sftp_server) == []


def test_a_consuming_server_takes_each_completed_file_and_leaves_parts(tmp_path):
    from sandbox.sftp_server import SandboxSftpServer

    with SandboxSftpServer(tmp_path, consume=True, taken_log=tmp_path / "taken") as server:
        transport = transport_for(server)
        try:
            transport.stage("r.xml.enc", DATA)
            assert uploaded_names(server) == ["r.xml.enc.part"]
            transport.promote("r.xml.enc")
            assert uploaded_names(server) == []
            assert transport.probe("r.xml.enc", len(DATA)) == Probe.ABSENT
            transport.upload("r.xml.enc", DATA)
        finally:
            transport.close()
        assert server.taken_counts() == {"r.xml.enc": 2}
        assert (tmp_path / "taken").read_text().count("r.xml.enc ") == 2


def test_drop_mid_upload_is_transient_leaves_nothing_delivered_and_a_retry_completes(
    sftp_server, sftp_transport
):
    sftp_server.drop_after(1000)
    error = transport_error(lambda: sftp_transport.upload("r.xml.enc", DATA))
    assert not error.permanent
    assert "dropped while trying to write r.xml.enc" in error.message
    assert "127.0.0.1" in error.message and "will retry" in error.message
    # Half a file was written, under the .part name only.
    assert uploaded_names(sftp_server) == ["r.xml.enc.part"]
    assert (sftp_server.inbox / "r.xml.enc.part").stat().st_size == 1000

    assert sftp_transport.upload("r.xml.enc", DATA) == UploadResult.UPLOADED
    assert (sftp_server.inbox / "r.xml.enc").read_bytes() == DATA
    assert uploaded_names(sftp_server) == ["r.xml.enc"]


def test_drop_in_the_middle_of_a_large_file(sftp_server, sftp_transport):
    big = bytes(range(256)) * 4_000  # 1 MB
    sftp_server.drop_after(300_000)
    assert not transport_error(lambda: sftp_transport.upload("big.xml.enc", big)).permanent
    assert uploaded_names(sftp_server) == ["big.xml.enc.part"]
    assert sftp_transport.upload("big.xml.enc", big) == UploadResult.UPLOADED
    assert (sftp_server.inbox / "big.xml.enc").read_bytes() == big


def test_a_kept_connection_dropping_mid_upload_is_retried_once(sftp_server, sftp_transport):
    sftp_transport.upload("a.xml.enc", DATA)
    sftp_server.drop_after(1000)
    assert sftp_transport.upload("b.xml.enc", DATA) == UploadResult.UPLOADED
    assert sftp_server.connections_made == 2
    assert (sftp_server.inbox / "b.xml.enc").read_bytes() == DATA


def test_a_second_drop_after_the_reconnect_is_a_transient_error(sftp_server, sftp_transport):
    sftp_transport.upload("a.xml.enc", DATA)
    sftp_server.drop_after(1000, times=2)
    error = transport_error(lambda: sftp_transport.upload("b.xml.enc", DATA))
    assert not error.permanent
    assert sftp_server.connections_made == 2  # reconnected exactly once
    assert "b.xml.enc" not in uploaded_names(sftp_server)


# --- SFTP: server unavailable -------------------------------------------------------------------


def test_server_down_is_transient_and_delivery_resumes_when_it_is_back(sftp_server, make_transport):
    transport = make_transport()
    sftp_server.stop()
    error = transport_error(lambda: transport.upload("r.xml.enc", DATA))
    assert not error.permanent
    assert error.message == (
        f"HRM SFTP server 127.0.0.1:{sftp_server.port} refused the connection; will retry"
    )
    sftp_server.start()
    assert transport.upload("r.xml.enc", DATA) == UploadResult.UPLOADED


def test_server_going_down_between_uploads_is_transient(sftp_server, sftp_transport):
    sftp_transport.upload("a.xml.enc", DATA)
    sftp_server.stop()
    error = transport_error(lambda: sftp_transport.upload("b.xml.enc", DATA))
    assert not error.permanent and "refused the connection" in error.message


def test_a_server_that_never_speaks_ssh_times_out_as_transient(make_transport):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        transport = make_transport(
            port=silent.getsockname()[1],
            timeouts=SftpTimeouts(connect=2, banner=0.5, auth=2, channel=2),
        )
        started = time.monotonic()
        error = transport_error(lambda: transport.upload("r.xml.enc", DATA))
        assert time.monotonic() - started < 5
        assert not error.permanent and "did not start SSH" in error.message
    finally:
        silent.close()


def test_a_full_disk_is_transient(sftp_server, sftp_transport):
    sftp_server.disk_full = True
    error = transport_error(lambda: sftp_transport.upload("r.xml.enc", DATA))
    assert not error.permanent and "No space left on device" in error.message
    sftp_server.disk_full = False
    assert sftp_transport.upload("r.xml.enc", DATA) == UploadResult.UPLOADED
    assert sftp_server.connections_made == 1  # the connection survived the failed write


def test_a_failed_write_in_the_middle_of_a_large_file_is_never_renamed(sftp_server, sftp_transport):
    big = bytes(range(256)) * 4_000  # 1 MB: 31 pipelined writes, then the last one
    sftp_server.fail_write_at(100_000)  # one block fails, the blocks after it succeed
    error = transport_error(lambda: sftp_transport.upload("big.xml.enc", big))
    assert not error.permanent and "No space left on device" in error.message
    assert "big.xml.enc" not in uploaded_names(sftp_server)
    assert sftp_transport.upload("big.xml.enc", big) == UploadResult.UPLOADED
    assert (sftp_server.inbox / "big.xml.enc").read_bytes() == big


# --- SFTP: permanent failures -------------------------------------------------------------------


def test_auth_refused_is_a_refusal_for_the_caller_to_weigh(sftp_server, sftp_transport):
    sftp_server.refuse_auth = True
    error = transport_error(lambda: sftp_transport.upload("r.xml.enc", DATA))
    assert error.refusal and not error.permanent and not error.file_refusal
    assert "refused the key" in error.message and "user 'hrm'" in error.message
    assert uploaded_names(sftp_server) == []


def test_a_key_the_server_does_not_know_is_a_refusal(sftp_server, make_transport, tmp_path):
    stranger = tmp_path / "stranger_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(stranger)
    error = transport_error(lambda: make_transport(key_file=stranger).upload("r.xml.enc", DATA))
    assert error.refusal and "refused the key" in error.message


def test_an_unknown_host_key_is_never_accepted(sftp_server, make_transport, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    # The right key, pinned for another port: the server at this port is unknown.
    known_hosts.write_text(
        sftp_server.known_hosts_line.replace(f"]:{sftp_server.port} ", "]:1 ") + "\n"
    )
    assert f":{sftp_server.port}" not in known_hosts.read_text()
    error = transport_error(
        lambda: make_transport(known_hosts_file=known_hosts).upload("r.xml.enc", DATA)
    )
    assert error.permanent
    assert "is not pinned in" in error.message and "SHA256:" in error.message
    assert known_hosts.read_text().count("\n") == 1  # nothing was added to the file
    assert uploaded_names(sftp_server) == []


def test_an_empty_or_missing_known_hosts_file_is_permanent(sftp_server, make_transport, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    assert transport_error(
        lambda: make_transport(known_hosts_file=empty).upload("r.xml.enc", DATA)
    ).permanent
    error = transport_error(
        lambda: make_transport(known_hosts_file=tmp_path / "nope").upload("r.xml.enc", DATA)
    )
    assert error.permanent and "cannot read the pinned host keys file" in error.message


def test_a_changed_host_key_is_never_accepted(sftp_server, sftp_transport):
    sftp_transport.upload("a.xml.enc", DATA)
    sftp_server.replace_host_key()
    error = transport_error(lambda: sftp_transport.upload("b.xml.enc", DATA))
    assert error.permanent and "DIFFERENT host key" in error.message
    assert uploaded_names(sftp_server) == ["a.xml.enc"]


def test_permission_denied_is_a_refusal_of_that_file(sftp_server, sftp_transport):
    sftp_server.read_only = True
    error = transport_error(lambda: sftp_transport.upload("r.xml.enc", DATA))
    assert error.refusal and error.file_refusal and not error.permanent
    assert "denied user 'hrm' permission to write files in folder '/inbox'" in error.message
    assert uploaded_names(sftp_server) == []


def test_a_missing_remote_folder_is_a_refusal(sftp_server, make_transport):
    error = transport_error(lambda: make_transport(remote_dir="/outbox").upload("r.xml.enc", DATA))
    assert error.refusal and not error.file_refusal
    assert error.message.startswith("folder '/outbox' does not exist on HRM SFTP server")


@pytest.mark.parametrize("content", [None, b"not a key\n", b""])
def test_an_unreadable_key_file_is_permanent(sftp_server, make_transport, tmp_path, content):
    key_file = tmp_path / "key"
    if content is not None:
        key_file.write_bytes(content)
    error = transport_error(lambda: make_transport(key_file=key_file).upload("r.xml.enc", DATA))
    assert error.permanent and str(key_file) in error.message
    assert sftp_server.connections_made == 0  # failed before touching the network


def test_a_passphrase_protected_key_is_permanent(sftp_server, make_transport, tmp_path):
    key_file = tmp_path / "locked_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(key_file, passphrase="secret")
    error = transport_error(lambda: make_transport(key_file=key_file).upload("r.xml.enc", DATA))
    assert error.permanent and "passphrase" in error.message


def test_the_sandbox_keeps_its_keys_across_restarts(tmp_path):
    from sandbox.sftp_server import SandboxSftpServer

    with SandboxSftpServer(tmp_path) as first:
        line = first.known_hosts_line.split(" ", 1)[1]
    with SandboxSftpServer(tmp_path) as second:
        assert second.known_hosts_line.split(" ", 1)[1] == line
        client_key = (tmp_path / "keys/client_key").read_bytes()
        assert Path(second.login.key_file).read_bytes() == client_key
