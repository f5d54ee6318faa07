"""The Conductor client under a burst: many concurrent calls, some cancelled while they wait (as kopf cancels
handlers), some timing out. See the client's module docstring, "Bursts", for what was found and why.

The bound is structural (at most ``max_connections`` requests in flight, checked at the transport and at a
real local server), so these tests assert it, not timings; the burst against the slow server uses short
timeouts, which every request of the burst missed before the bound (httpcore's pool queued it quadratically).
Cancellations are checked the same way: once a cancelled call has ended, httpx's pool holds nothing of it (no
waiting for it to settle), whatever the moment the cancellation came (the client's module docstring, "Cancellations").
"""

from __future__ import annotations

import asyncio
import random
import threading

import httpcore
import httpx
import pytest
from conductor_operator.conductor.client import MAX_CONNECTIONS, ConductorClient, Flavor
from conductor_operator.conductor.errors import Unavailable

# ---- a slow local HTTP server -------------------------------------------------------------------


class SlowServer:
    """HTTP/1.1 with keep-alive on asyncio, in a thread of its own: ``GET /api/sleep/<seconds>`` answers
    ``{"ok": true}`` after that long. Counts the connections it has open, and the most it had at once."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.open = self.most_open = self.requests = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start():
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=4096)
            self.port = self.server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while line := await reader.readline():
                path = line.split()[1].decode()
                length = 0
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":")[1])
                await reader.readexactly(length)
                self.requests += 1
                if "/sleep/" in path:
                    await asyncio.sleep(float(path.rsplit("/", 1)[1]))
                writer.write(b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n'
                             b'{"ok":true}')
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the server stops (a handler that ends cancelled is logged as an error)
        finally:
            self.open -= 1
            writer.close()

    def __enter__(self) -> SlowServer:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        async def stop():
            self.server.close()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def pool_of(client: ConductorClient):
    return client._http._transport._pool  # httpcore's pool: what it queues, what it holds


async def test_a_burst_with_cancellations_and_timeouts_is_served_and_leaves_the_client_usable():
    """1,000 concurrent calls to a server answering in 20 ms, 5-s timeouts: 15 calls the server answers too late
    time out, 200 are cancelled mid-burst (waiting for a connection, or in flight), every other one is answered.
    Before the bound, every call of such a burst failed (PoolTimeout or ConnectTimeout: the pool's quadratic
    queueing stalled the event loop). Before cancellations reached httpx through an anyio cancel scope, about one
    burst in ten left a connection ACTIVE in httpcore's pool for good: caught every time by
    test_a_call_cancelled_at_any_moment_leaves_its_connection_to_the_next_one, here only now and then."""
    random.seed(13)
    with SlowServer() as server:
        async with ConductorClient(server.url, flavor=Flavor.OSS, timeout=5, connect_timeout=5,
                                   pool_timeout=30) as client:  # timeouts a loaded CI machine does not reach
            slow = set(random.sample(range(1000), 15))

            async def call(n: int) -> str:
                try:
                    await client._json("GET", f"/sleep/{12 if n in slow else 0.02}")
                    return "ok"
                except Unavailable as exc:
                    return "timed out" if "timed out (ReadTimeout)" in str(exc) else str(exc)

            tasks = [asyncio.create_task(call(n)) for n in range(1000)]
            while server.requests < 2 * MAX_CONNECTIONS and not all(t.done() for t in tasks):
                await asyncio.sleep(0.01)  # mid-burst: every connection open and busy, most calls waiting their turn
            waiting = [t for n, t in enumerate(tasks) if n not in slow and not t.done()]
            cancelled = set(random.sample(waiting, 200))
            for task in cancelled:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)

            assert all(isinstance(outcomes[n], asyncio.CancelledError) for n, t in enumerate(tasks) if t in cancelled)
            answered = [outcomes[n] for n, t in enumerate(tasks) if t not in cancelled]
            assert answered.count("timed out") == 15
            assert answered.count("ok") == len(answered) - 15, {o for o in answered if o not in ("ok", "timed out")}
            # The server notices a connection closed by a client timeout only when it next reads it, so it may see
            # the timed-out ones beside their replacements for a while (without the bound: 100, httpx's default).
            assert server.most_open <= MAX_CONNECTIONS + len(slow), "no more connections than the pool's size"

            # Once every call has ended, its request has ended in httpx too (a cancelled call waits for httpcore's
            # clean-up): nothing is left to settle, and no connection is kept in use by a call that is gone.
            pool = pool_of(client)
            assert not pool._requests, "nothing left queued in httpx's pool"
            assert len(pool.connections) <= MAX_CONNECTIONS
            assert all(c.is_idle() or c.is_closed() for c in pool.connections), f"none left in use: {pool}"
            assert client._slots._value == MAX_CONNECTIONS, "every slot given back, the cancelled ones' too"
            assert await asyncio.gather(*(client._json("GET", "/sleep/0") for _ in range(100))) == [{"ok": True}] * 100


async def test_in_flight_requests_are_bounded_by_the_pool_size():
    """Whatever the transport (the operator's address-checking one, a test's), at most ``max_connections``
    requests are in it at once; the others wait their turn outside, in order."""
    in_flight = most = 0
    order: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        order.append(request.url.path.rsplit("/", 1)[1])
        await asyncio.sleep(0.001)
        in_flight -= 1
        return httpx.Response(200, json={"name": "w", "version": 1})

    async with ConductorClient("http://conductor:8080", flavor=Flavor.OSS,
                               transport=httpx.MockTransport(handler)) as client:
        await asyncio.gather(*(client.get_workflow_def(f"w{n}") for n in range(1000)))
    assert most == MAX_CONNECTIONS
    assert order == [f"w{n}" for n in range(1000)], "first come, first served"


async def test_the_address_checking_transport_is_sized_to_the_pool_too():
    client = ConductorClient("http://conductor:8080", connect_check=lambda host, address: None, max_connections=7)
    pool = pool_of(client)
    assert (pool._max_connections, pool._max_keepalive_connections) == (7, 7)
    await client.aclose()


class Gate:
    """A transport handler that holds every request until opened."""

    def __init__(self):
        self.opened = asyncio.Event()
        self.entered = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.entered += 1
        await self.opened.wait()
        return httpx.Response(200, json={})


async def test_a_wait_for_a_connection_has_its_own_timeout_and_says_so():
    gate = Gate()
    async with ConductorClient("http://conductor:8080", flavor=Flavor.OSS, transport=httpx.MockTransport(gate),
                               timeout=30, max_connections=2, pool_timeout=0.05) as client:
        holding = [asyncio.create_task(client.all_workflow_defs()) for _ in range(2)]
        await asyncio.sleep(0.01)
        with pytest.raises(Unavailable, match=r"GET /metadata/workflow/w was not sent: the client's 2 connections to "
                                              r"Conductor were all busy for 0.05s \(PoolTimeout") as raised:
            await client.get_workflow_def("w")
        assert raised.value.status is None
        assert gate.entered == 2, "the request that found no connection was not sent"
        gate.opened.set()
        assert await asyncio.gather(*holding) == [[], []]
        assert await client.get_workflow_def("w") == {}, "its slot was not lost"
        assert client._slots._value == 2


async def test_cancelled_waits_give_their_turn_back():
    gate = Gate()
    async with ConductorClient("http://conductor:8080", flavor=Flavor.OSS, transport=httpx.MockTransport(gate),
                               max_connections=3) as client:
        running = [asyncio.create_task(client.all_workflow_defs()) for _ in range(3)]
        waiting = [asyncio.create_task(client.all_workflow_defs()) for _ in range(500)]
        await asyncio.sleep(0.01)
        for task in waiting[::2]:
            task.cancel()
        running[0].cancel()  # cancelled inside the transport: its slot comes back too
        await asyncio.sleep(0.01)
        gate.opened.set()
        results = await asyncio.gather(*running, *waiting, return_exceptions=True)
        assert sum(isinstance(r, asyncio.CancelledError) for r in results) == 251
        assert results.count([]) == 252
        assert client._slots._value == 3
        assert gate.entered == 3 + 250


async def test_a_pool_timeout_from_httpx_itself_is_unavailable_with_the_same_message():
    def fail(request):
        raise httpx.PoolTimeout("no connection")

    async with ConductorClient("http://conductor:8080", flavor=Flavor.OSS, transport=httpx.MockTransport(fail),
                               pool_timeout=5) as client:
        with pytest.raises(Unavailable, match="connections to Conductor were all busy for 5s"):
            await client.get_task_def("t")
        assert client._slots._value == MAX_CONNECTIONS


# ---- a cancellation at any moment of a request ---------------------------------------------------


class OneAnswerServer(httpcore.AsyncNetworkBackend):
    """httpcore's network, in memory: every connection answers each request ``{"name": "w", "version": 1}`` at once.
    Armed with a task and a moment, it cancels that task there, once, as kopf cancels a handler (from outside,
    whatever the task is doing): as the connection is being made (``connect``), just as it is made (``connected``:
    the cancellation comes before the connect's end is seen), as the request is written (``write``), as the answer
    is read (``read``)."""

    ANSWER = (b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 25\r\n\r\n'
              b'{"name":"w","version":1}\n')

    def __init__(self):
        self.victim: asyncio.Task | None = None
        self.moment = ""
        self.cancelled_at: list[str] = []

    def _at(self, moment: str) -> bool:
        if self.victim is None or moment != self.moment:
            return False
        self.victim.cancel()
        self.victim = None
        self.cancelled_at.append(moment)
        return True

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self._at("connect")
        if self.victim is not None and self.moment == "connected":
            made = asyncio.get_running_loop().create_future()

            def cancel_then_connect():
                self._at("connected")
                made.set_result(None)

            asyncio.get_running_loop().call_soon(cancel_then_connect)
            await made
        return _Connection(self)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:  # pragma: no cover
        await asyncio.sleep(seconds)


class _Connection(httpcore.AsyncNetworkStream):
    def __init__(self, server: OneAnswerServer):
        self.server = server
        self.answers: list[bytes] = []

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer.split(b"\r\n", 1)[0].endswith(b" HTTP/1.1"):  # a request's head
            self.server._at("write")
            self.answers.append(OneAnswerServer.ANSWER)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.server._at("read")
        return self.answers.pop(0) if self.answers else b""

    async def aclose(self) -> None:
        pass

    def get_extra_info(self, info: str):
        return None


@pytest.mark.parametrize("moment", ["connect", "connected", "write", "read"])
async def test_a_call_cancelled_at_any_moment_leaves_its_connection_to_the_next_one(moment):
    """kopf cancels a handler wherever it is. httpcore 1.0.9 shields its clean-up from anyio cancellations only: an
    asyncio one that landed in it (where it gives an answered request's connection back) left the connection ACTIVE
    in the pool for good, and the request queued there; one just as a connection was made left it NEW, owned by no
    request. Each lost one of the client's connections; once all were, every call was a PoolTimeout. One connection
    here: the next call needs the same one. (The client's module docstring, "Cancellations".)"""
    server = OneAnswerServer()
    async with ConductorClient("http://conductor:8080", flavor=Flavor.OSS, connect_check=lambda host, address: None,
                               max_connections=1, pool_timeout=30) as client:
        pool = pool_of(client)
        pool._network_backend = server  # in place of the address-checking one: the operator's transport otherwise
        assert await client.get_workflow_def("w") == {"name": "w", "version": 1}, "a connection, and it answers"
        if moment.startswith("connect"):
            await pool.aclose()  # its connection closed: the next call makes one of its own

        call = asyncio.create_task(client.get_workflow_def("w"))
        server.victim, server.moment = call, moment
        with pytest.raises(asyncio.CancelledError):
            await call
        assert server.cancelled_at == [moment], "cancelled there, and the cancellation honoured"

        assert not pool._requests, "nothing left queued in httpx's pool"
        assert all(connection.is_idle() or connection.is_closed() for connection in pool.connections), \
            f"no connection left in use by nobody: {pool.connections}"
        assert client._slots._value == 1, "its slot given back"
        assert await client.get_workflow_def("w") == {"name": "w", "version": 1}, "the next call is answered"
