"""A TCP proxy that delays every byte by a fixed time each way: a server ``rtt_ms`` away.

``DelayProxy(listen, target, one_way_ms=10)`` forwards each connection it accepts on ``listen``
to ``target``; what either side sends reaches the other ``one_way_ms`` later, in order, with no
limit on throughput (latency, not bandwidth). With ``one_way_ms=0`` it is a plain forwarder.
Used by bench/delivery.py and bench/faults.py (``--rtt-ms``) and bench/multihost.py in front of
the SFTP server (HRM that far away), and, undelayed, to reach PostgreSQL and Redis on the host's
loopback from a network namespace.

A target that restarts or refuses never leaves a client hanging, as a real network path would
not: a connection the target refuses (or does not accept within ``CONNECT_TIMEOUT``) is reset
at once; when either side breaks (a reset, a write that fails) both are reset; when either side
ends cleanly, what it sent still arrives (after the delay), the other side gets its end of file,
and both are closed at most ``one_way_ms`` + ``LINGER`` later.

``round_trips`` counts, over every connection, the round trips the clients waited for, as seen
at the proxy (``RoundTrips``): a bench reads it before and after a phase.

What it does not model: it ends TCP on each side, so TCP's own acknowledgements come from this
machine's kernel at once. A client that leaves Nagle's algorithm on (paramiko does: no
TCP_NODELAY) holds a small request sent right behind another until the first is acknowledged:
over a real path for a round trip, here for the loopback's delayed acknowledgement (up to
40 ms). Such a hold shows in the count when an answer comes in during it (at 20 ms, not at
80 ms), and costs less time here than on a real path far away.

In a thread of the caller (``start()``/``close()``), or as a process of its own, one or more
proxies at once: ``python bench/support/delay_proxy.py LISTEN_HOST:PORT TARGET_HOST:PORT
ONE_WAY_MS [...]``; it prints ``listening`` once every one listens, and stops on SIGTERM.
"""

import asyncio
import contextlib
import signal
import sys
import threading
import time

CHUNK = 64 * 1024
CONNECT_TIMEOUT = 10.0  # seconds to reach the target before the client is reset
LINGER = 1.0  # seconds the other direction may still run once one side has ended cleanly


class RoundTrips:
    """The round trips one client waited for, counted from what crosses the proxy.

    An answer cannot reach the client sooner than one round trip (``rtt`` seconds) after the
    request it answers. So a burst of client data counts as one round trip when, since the
    client's previous data, server data reached it at least (nearly) a round trip after that
    previous data: the client sent, waited for an answer, and went on. Pipelined requests
    (writes sent while the acknowledgements of earlier ones come back) do not count, nor does a
    pause for the client's own work with no answer in it. The connection's first burst counts
    (it opens the exchange). An upper bound still: a client that sends something it does not
    wait for, then works longer than a round trip before its next request, counts one. Only
    meaningful with a delay: with ``rtt`` 0 every burst after any answer would count."""

    def __init__(self, rtt: float):
        self.rtt = rtt * 0.9  # the proxy's timers fire a little late, never early; margin
        self.count = 0
        self._last_sent: float | None = None
        self._answered = False

    def client_sent(self, now: float) -> None:
        if self._last_sent is None or self._answered:
            self.count += 1
        self._last_sent = now
        self._answered = False

    def client_received(self, now: float) -> None:
        if self._last_sent is not None and now - self._last_sent >= self.rtt:
            self._answered = True


async def _pump(reader, writer, delay: float, on_read=None, on_delivered=None) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read; at the
    reader's end, what is on its way is still delivered, then end of file. Raises as soon as
    either side breaks (``OSError``)."""
    queue: asyncio.Queue = asyncio.Queue()

    async def read():
        while data := await reader.read(CHUNK):
            now = time.monotonic()
            if on_read is not None:
                on_read(now)
            queue.put_nowait((now + delay, data))
        queue.put_nowait((0.0, None))

    async def deliver():
        while (item := await queue.get())[1] is not None:
            due, data = item
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            if on_delivered is not None:
                on_delivered(time.monotonic())
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    reading = asyncio.create_task(read())
    delivering = asyncio.create_task(deliver())
    try:
        # Returns when both are done, or as soon as one raises (a write that fails must not
        # leave the reader reading into a queue nobody delivers).
        done, _ = await asyncio.wait({reading, delivering}, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in (reading, delivering):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError, RuntimeError):
            await asyncio.gather(reading, delivering, return_exceptions=True)


def _end(writer, *, reset: bool) -> None:
    """Close a connection: a clean close (FIN after what is buffered), or a reset."""
    with contextlib.suppress(OSError, RuntimeError):
        if reset:
            writer.transport.abort()
        else:
            writer.close()


class DelayProxy:
    def __init__(self, listen: tuple[str, int], target: tuple[str, int], one_way_ms: float = 0):
        self.listen = listen
        self.target = target
        self.delay = one_way_ms / 1000
        self.server: asyncio.base_events.Server | None = None
        self.connections = 0
        self._counters: list[RoundTrips] = []
        self._handlers: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    @property
    def round_trips(self) -> int:
        """Round trips the clients waited for so far, every connection's (``RoundTrips``)."""
        return sum(counter.count for counter in list(self._counters))

    async def _handle(self, client_reader, client_writer) -> None:
        handler = asyncio.current_task()
        self._handlers.add(handler)
        try:
            await self._forward(client_reader, client_writer)
        except asyncio.CancelledError:
            # Our own shutdown: ending the task quietly (asyncio's stream callback would log a
            # cancelled handler as an error), with its client reset.
            _end(client_writer, reset=True)
        finally:
            self._handlers.discard(handler)

    async def _forward(self, client_reader, client_writer) -> None:
        self.connections += 1
        try:
            server_reader, server_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError):
            # As a refused connection looks to the client: reset, at once.
            _end(client_writer, reset=True)
            return
        counter = RoundTrips(2 * self.delay)
        self._counters.append(counter)
        upstream = asyncio.create_task(
            _pump(client_reader, server_writer, self.delay, on_read=counter.client_sent)
        )
        downstream = asyncio.create_task(
            _pump(server_reader, client_writer, self.delay, on_delivered=counter.client_received)
        )
        reset = True
        try:
            done, pending = await asyncio.wait(
                {upstream, downstream}, return_when=asyncio.FIRST_COMPLETED
            )
            if not any(task.exception() for task in done):
                # One side ended cleanly and the other has its end of file: it may still answer
                # or end too, for a bounded time.
                if pending:
                    done, pending = await asyncio.wait(pending, timeout=self.delay + LINGER)
                reset = bool(pending) or any(task.exception() for task in done)
        finally:
            for task in (upstream, downstream):
                task.cancel()
            await asyncio.gather(upstream, downstream, return_exceptions=True)
            for writer in (client_writer, server_writer):
                _end(writer, reset=reset)

    async def serve(self) -> None:
        self.server = await asyncio.start_server(self._handle, *self.listen)

    async def shutdown(self) -> None:
        """Stop listening and reset every open connection."""
        self.server.close()
        for handler in list(self._handlers):
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    # In a thread of the caller ---------------------------------------------------------------

    def start(self) -> "DelayProxy":
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="delay-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the delay proxy on {self.listen} did not start")
        return self

    def close(self) -> None:
        if self._loop is not None:
            loop, self._loop = self._loop, None
            with contextlib.suppress(TimeoutError):
                asyncio.run_coroutine_threadsafe(self.shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _main(arguments: list[str]) -> None:
    proxies = [
        DelayProxy(_address(listen), _address(target), float(delay))
        for listen, target, delay in zip(
            arguments[0::3], arguments[1::3], arguments[2::3], strict=True
        )
    ]
    for proxy in proxies:
        await proxy.serve()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("listening", flush=True)
    await stop.wait()
    for proxy in proxies:
        await proxy.shutdown()


if __name__ == "__main__":
    if not sys.argv[1:] or len(sys.argv[1:]) % 3:
        sys.exit(__doc__)
    asyncio.run(_main(sys.argv[1:]))
