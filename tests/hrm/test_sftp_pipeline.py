"""A batch over SFTP with every request of a step in flight at once (``staging`` or
``stage_all``, then ``promote_all``), against the real sandbox SFTP server: each file keeps its
own outcome, and a batch costs the round trips of one file when HRM is far away."""

from __future__ import annotations

import math
import time

from bench.support.delay_proxy import DelayProxy
from hrm.delivery.transports import Probe

from .test_transports import DATA, uploaded_names

BIG = bytes(range(256)) * 4_000  # 1 MB: 32 writes in flight


def files(count: int, data: bytes = DATA) -> dict[str, bytes]:
    return {f"r{n}-D1234{n}.xml.enc": data for n in range(count)}


def test_a_batch_is_staged_then_renamed_byte_for_byte(sftp_server, sftp_transport):
    batch = files(3) | {"big-D12345.xml.enc": BIG, "empty-D12345.xml.enc": b""}
    assert sftp_transport.stage_all(batch) == dict.fromkeys(batch)
    assert uploaded_names(sftp_server) == sorted(f"{name}.part" for name in batch)
    assert sftp_transport.promote_all(list(batch)) == dict.fromkeys(batch)
    assert uploaded_names(sftp_server) == sorted(batch)
    for name, data in batch.items():
        assert (sftp_server.inbox / name).read_bytes() == data
    assert sftp_transport.accepted == 5 and sftp_server.connections_made == 1


def test_files_are_written_as_each_is_given_and_one_dropped_leaves_nothing(
    sftp_server, sftp_transport
):
    staging = sftp_transport.staging(["a-D1.xml.enc", "b-D2.xml.enc", "c-D3.xml.enc"])
    staging.write("c-D3.xml.enc", BIG)  # in any order
    staging.drop("b-D2.xml.enc")  # its file could not be made after all
    staging.write("a-D1.xml.enc", DATA)
    assert staging.finish() == {"a-D1.xml.enc": None, "c-D3.xml.enc": None}
    assert uploaded_names(sftp_server) == ["a-D1.xml.enc.part", "c-D3.xml.enc.part"]
    assert (sftp_server.inbox / "c-D3.xml.enc.part").read_bytes() == BIG
    assert (sftp_server.inbox / "a-D1.xml.enc.part").read_bytes() == DATA


def test_a_batch_holds_no_more_files_open_than_its_transport_allows(sftp_server, make_transport):
    transport = make_transport(open_files_at_once=3)
    batch = files(10) | {"big-D9.xml.enc": BIG}
    staging = transport.staging(list(batch))
    for name, data in batch.items():
        if name == "r4-D12344.xml.enc":
            staging.drop(name)  # a file that could not be made moves the window on too
        else:
            staging.write(name, data)
    assert staging.finish() == {name: None for name in batch if name != "r4-D12344.xml.enc"}
    assert sftp_server.most_open_files == 3
    assert transport.promote_all([n for n in batch if n != "r4-D12344.xml.enc"]) == {
        n: None for n in batch if n != "r4-D12344.xml.enc"
    }
    assert uploaded_names(sftp_server) == sorted(n for n in batch if n != "r4-D12344.xml.enc")
    assert (sftp_server.inbox / "big-D9.xml.enc").read_bytes() == BIG


def test_each_write_goes_out_in_one_ssh_packet(sftp_server, sftp_transport):
    """The server takes packets of 32,768 bytes; paramiko keeps 64 of them back, and its own
    writes carry 32,768 bytes of file, so each went out as a full packet and a packet of a hundred
    bytes, each encrypted and signed on its own: twice the packets for the same file."""
    assert sftp_transport.stage_all({"warm-D1.xml.enc": DATA}) == {"warm-D1.xml.enc": None}
    packetizer = sftp_transport._client.get_transport().packetizer

    def sent() -> int:
        return packetizer._Packetizer__sent_packets  # paramiko counts them for rekeying

    before = sent()
    assert sftp_transport.stage_all({"big-D12345.xml.enc": BIG}) == {"big-D12345.xml.enc": None}
    writes = math.ceil(len(BIG) / (32_768 - 64 - 64))  # less the request's own fields
    assert sent() - before == 1 + writes + 1  # the open, one packet a write, the close
    assert (sftp_server.inbox / "big-D12345.xml.enc.part").read_bytes() == BIG


def test_a_name_never_given_leaves_nothing_either(sftp_server, sftp_transport):
    staging = sftp_transport.staging(["a-D1.xml.enc", "b-D2.xml.enc"])
    staging.write("a-D1.xml.enc", DATA)
    assert staging.finish() == {"a-D1.xml.enc": None}
    assert uploaded_names(sftp_server) == ["a-D1.xml.enc.part"]


def test_a_connection_dropped_while_files_are_given_fails_each_of_them(sftp_server, sftp_transport):
    sftp_server.drop_after(300_000)
    staging = sftp_transport.staging(["big-D1.xml.enc", "big-D2.xml.enc", "a-D3.xml.enc"])
    staging.write("big-D1.xml.enc", BIG)
    staging.write("big-D2.xml.enc", BIG)
    staging.write("a-D3.xml.enc", DATA)
    outcome = staging.finish()
    assert sorted(outcome) == ["a-D3.xml.enc", "big-D1.xml.enc", "big-D2.xml.enc"]
    for error in outcome.values():
        assert not error.permanent and "dropped" in error.message and "will retry" in error.message
    assert not [name for name in uploaded_names(sftp_server) if not name.endswith(".part")]
    # The next batch connects again.
    assert sftp_transport.stage_all({"a-D3.xml.enc": DATA}) == {"a-D3.xml.enc": None}


def test_a_file_refused_keeps_its_own_error_and_the_others_go(sftp_server, sftp_transport):
    batch = files(3)
    sftp_server.refuse_deliver_to("D12341")
    staged = sftp_transport.stage_all(batch)
    refused = staged.pop("r1-D12341.xml.enc")
    assert refused.refusal and refused.file_refusal and "permission" in refused.message
    assert staged == dict.fromkeys(staged)
    assert sftp_transport.promote_all(list(staged)) == dict.fromkeys(staged)
    assert uploaded_names(sftp_server) == sorted(staged)


def test_a_failed_write_in_one_file_fails_that_file_only(sftp_server, sftp_transport):
    batch = {"a-D1.xml.enc": DATA, "big-D2.xml.enc": BIG, "c-D3.xml.enc": DATA}
    sftp_server.fail_write_at(200_000)  # one block of the big file; its close still succeeds
    outcome = sftp_transport.stage_all(batch)
    failed = outcome.pop("big-D2.xml.enc")
    assert not failed.permanent and "No space left on device" in failed.message
    assert outcome == dict.fromkeys(outcome)
    assert sftp_transport.probe("big-D2.xml.enc", len(BIG)) == Probe.STAGED  # size, not content
    assert sftp_transport.stage_all({"big-D2.xml.enc": BIG}) == {"big-D2.xml.enc": None}
    sftp_transport.promote_all(list(batch))
    assert (sftp_server.inbox / "big-D2.xml.enc").read_bytes() == BIG


def test_a_connection_dropped_mid_batch_fails_the_batch_and_renames_nothing(
    sftp_server, sftp_transport
):
    sftp_server.drop_after(300_000, times=2)  # after the reconnect too
    outcome = sftp_transport.stage_all(files(2) | {"big-D9.xml.enc": BIG})
    assert len(outcome) == 3
    for error in outcome.values():
        assert not error.permanent and "dropped" in error.message and "will retry" in error.message
    assert not [name for name in uploaded_names(sftp_server) if not name.endswith(".part")]


def test_renames_whose_replies_were_lost_are_unknown_and_probe_settles_them(
    sftp_server, sftp_transport
):
    batch = files(3)
    sftp_transport.stage_all(batch)
    # The first rename happens, then the connection drops: the others may have been done
    # before it did, or not; no reply tells.
    sftp_server.drop_after_rename = True
    outcome = sftp_transport.promote_all(list(batch))
    assert all(error is not None and error.rename_unknown for error in outcome.values())
    found = {name: sftp_transport.probe(name, len(DATA)) for name in batch}
    assert set(found.values()) <= {Probe.DELIVERED, Probe.STAGED}
    assert Probe.DELIVERED in found.values()
    staged = [name for name, probe in found.items() if probe is Probe.STAGED]
    assert sftp_transport.promote_all(staged) == dict.fromkeys(staged)
    assert uploaded_names(sftp_server) == sorted(batch)


def test_far_away_a_batch_costs_the_round_trips_of_one_file(sftp_server, make_transport, tmp_path):
    """Eight files 100 ms away: open, write and close, rename; three round trips, where one file
    after another would take thirty-two. The bound leaves room for a busy machine both ways."""
    rtt = 0.1
    proxy = DelayProxy(("127.0.0.1", 0), (sftp_server.login.host, sftp_server.port), rtt * 500)
    proxy.start()
    try:
        port = proxy.server.sockets[0].getsockname()[1]
        key = sftp_server.login.known_hosts_file.read_text().split(maxsplit=1)[1]
        (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{port} {key}")
        transport = make_transport(port=port, known_hosts_file=tmp_path / "known_hosts")
        transport.probe("warm-D1.xml.enc", 0)  # the connection, outside the clock
        batch = files(8)
        started = time.monotonic()
        assert transport.stage_all(batch) == dict.fromkeys(batch)
        assert transport.promote_all(list(batch)) == dict.fromkeys(batch)
        elapsed = time.monotonic() - started
        transport.close()
    finally:
        proxy.close()
    assert uploaded_names(sftp_server) == sorted(batch)
    assert 3 * rtt <= elapsed < 12 * rtt, f"{elapsed / rtt:.1f} round trips"
