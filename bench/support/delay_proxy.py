"""A TCP proxy that delays every byte by a fixed time each way: a server ``rtt_ms`` away.

``DelayProxy(listen, target, one_way_ms=10)`` forwards each connection it accepts on ``listen``
to ``target``; what either side sends reaches the other ``one_way_ms`` later, in order, with no
limit on throughput (latency, not bandwidth). With ``one_way_ms=0`` it is a plain forwarder.
Used by bench/multihost.py, in front of the SFTP server (HRM 20 ms away) and, undelayed, to
reach PostgreSQL and Redis on the host's loopback from a network namespace.

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


async def _pump(reader, writer, delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read."""
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()

    delivering = asyncio.create_task(deliver())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((time.monotonic() + delay, data))
    except OSError:
        pass
    finally:
        queue.put_nowait((0.0, None))
        with contextlib.suppress(OSError):
            await delivering


class DelayProxy:
    def __init__(self, listen: tuple[str, int], target: tuple[str, int], one_way_ms: float = 0):
        self.listen = listen
        self.target = target
        self.delay = one_way_ms / 1000
        self.server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _handle(self, client_reader, client_writer) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                _pump(client_reader, server_writer, self.delay),
                _pump(server_reader, client_writer, self.delay),
            )
        finally:
            for writer in (client_writer, server_writer):
                writer.close()

    async def serve(self) -> None:
        self.server = await asyncio.start_server(self._handle, *self.listen)

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
            self._loop.call_soon_threadsafe(self.server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None


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


if __name__ == "__main__":
    if not sys.argv[1:] or len(sys.argv[1:]) % 3:
        sys.exit(__doc__)
    asyncio.run(_main(sys.argv[1:]))
