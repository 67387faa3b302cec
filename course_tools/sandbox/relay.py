"""Byte relay between the grader's kernel ports and the sandboxed kernel's Unix sockets.

The sandbox has its own network namespace (no network at all, not even the host's loopback), so the
kernel cannot listen on the TCP ports that Jupyter chose for it. Instead the kernel listens on Unix
sockets in a private folder shared with the launcher, and the launcher listens on Jupyter's ports and
copies bytes both ways. ZeroMQ speaks the same protocol over TCP and Unix sockets, so nothing else changes.
"""

import asyncio
import contextlib
import os

CHUNK = 1 << 16


async def _pipe(reader, writer):
    """Copy bytes from ``reader`` to ``writer`` until end of stream, then close ``writer``."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _open_unix(path, wait_s):
    """Connect to the Unix socket ``path``, waiting up to ``wait_s`` seconds for the kernel to create it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            return await asyncio.open_unix_connection(path)
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.02)


def _handler(unix_path, wait_s):
    async def handle(reader, writer):
        inner_writer = None
        try:
            inner_reader, inner_writer = await _open_unix(unix_path, wait_s)
            await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))
        except (OSError, asyncio.CancelledError):
            # no kernel socket, or the kernel ended and the launcher is closing every connection: this
            # connection is over (ending normally keeps asyncio from printing the cancellation)
            pass
        finally:
            for w in (writer, inner_writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()

    return handle


async def start_relays(connection, socket_prefix, wait_s=60.0):
    """Listen where ``connection`` (a Jupyter connection-file dict) says and relay to ``socket_prefix-PORT``.

    Returns the list of asyncio servers (close them when the kernel ends).
    """
    servers = []
    for key in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
        port = int(connection[key])
        handle = _handler(f"{socket_prefix}-{port}", wait_s)
        if connection.get("transport", "tcp") == "ipc":
            path = f"{connection['ip']}-{port}"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            servers.append(await asyncio.start_unix_server(handle, path=path))
        else:
            servers.append(await asyncio.start_server(handle, host=connection["ip"], port=port))
    return servers
