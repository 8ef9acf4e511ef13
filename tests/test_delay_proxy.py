"""The benchmarks' delay proxy (bench/support/delay_proxy.py): it counts the round trips a client
waited for, and a target that refuses or goes away never leaves its client hanging."""

import contextlib
import socket
import struct
import threading

import pytest

from bench.support.delay_proxy import DelayProxy, RoundTrips

RTT = 0.080


def test_each_request_sent_after_its_answer_is_one_round_trip():
    trips = RoundTrips(RTT)
    for exchange in range(3):  # request, answer one round trip later, next request
        start = exchange * 0.1
        trips.client_sent(start)
        trips.client_received(start + RTT)
    assert trips.count == 3


def test_pipelined_requests_are_one_round_trip():
    trips = RoundTrips(RTT)
    writes = [number * 0.005 for number in range(20)]  # going out while acknowledgements come back
    events = [(sent, trips.client_sent) for sent in writes]
    events += [(sent + RTT + 0.001, trips.client_received) for sent in writes]
    events.append((0.2, trips.client_sent))  # the next request, once the last acknowledgement is in
    for moment, event in sorted(events, key=lambda pair: pair[0]):
        event(moment)
    assert trips.count == 2


def test_a_pause_without_an_answer_is_not_a_round_trip():
    trips = RoundTrips(RTT)
    trips.client_sent(0.0)
    trips.client_received(0.01)  # an answer to something before: not to what was just sent
    trips.client_sent(0.5)  # after the client's own work
    assert trips.count == 1


@contextlib.contextmanager
def upstream(serve):
    """A one-connection TCP server on loopback running ``serve(connection)`` in a thread."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run():
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                serve(connection)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        listener.close()
        thread.join(5)


@contextlib.contextmanager
def proxy_to(target, one_way_ms=0.0):
    proxy = DelayProxy(("127.0.0.1", 0), target, one_way_ms).start()
    try:
        yield proxy
    finally:
        proxy.close()


def connect(proxy) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    client.settimeout(5)  # a hang fails the test instead of stalling it
    return client


@contextlib.contextmanager
def through_proxy(serve, one_way_ms=10.0):
    """A client connected through a delay proxy to an upstream running ``serve``."""
    with (
        upstream(serve) as target,
        proxy_to(target, one_way_ms) as proxy,
        connect(proxy) as client,
    ):
        yield proxy, client


def read_to_end(client: socket.socket) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := client.recv(1024):
            received += chunk
    return received


def test_a_target_that_refuses_closes_the_client_at_once():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = probe.getsockname()  # bound, never listening: connections are refused
        with proxy_to(refused) as proxy, connect(proxy) as client:
            assert read_to_end(client) == b""


def test_a_target_that_goes_away_mid_connection_ends_the_client_connection():
    def greet_and_leave(connection):
        connection.sendall(b"hello")

    with through_proxy(greet_and_leave) as (_, client):
        assert read_to_end(client) == b"hello"


def test_a_target_that_resets_resets_the_client():
    def reset(connection):
        connection.recv(5)
        # Closed with no linger: a reset, as a killed server's connection ends.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with through_proxy(reset) as (_, client):
        client.sendall(b"hello")
        assert read_to_end(client) == b""


@pytest.mark.parametrize("exchanges", [1, 3])
def test_the_proxy_counts_the_round_trips_a_client_waited_for(exchanges):
    def echo(connection):
        while data := connection.recv(1024):
            connection.sendall(data)

    with through_proxy(echo, one_way_ms=20) as (proxy, client):
        for number in range(exchanges):
            client.sendall(b"ping%d" % number)
            assert client.recv(1024) == b"ping%d" % number
        assert proxy.round_trips == exchanges


def test_a_client_that_keeps_writing_after_the_target_left_is_cut_off():
    """A client that never reads its end of file (a kept connection, idle) is not left half
    open: within a second or so of the target leaving, its writes fail."""

    def greet_and_leave(connection):
        connection.sendall(b"hello")

    with through_proxy(greet_and_leave) as (_, client):
        assert client.recv(1024) == b"hello"
        with pytest.raises(OSError):  # BrokenPipeError or ConnectionResetError
            for _ in range(100):  # at most 5 s
                client.sendall(b"still there?")
                threading.Event().wait(0.05)
