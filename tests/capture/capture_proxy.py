"""A capturing TCP proxy: listens on a loopback port, forwards every
connection to a target, and writes the bytes of connection n (counted from 1
in the order they are accepted) to DIR/conn-n.c2s (client to server) and
DIR/conn-n.s2c (server to client).

    capture_proxy.py --target HOST:PORT --dir DIR [--port P] [--port-file FILE]

With --port 0 (the default) the system picks the port; it is written to
--port-file (atomically, once listening) and to stdout. SIGTERM or SIGINT
closes the listener and every open connection, and flushes the files.
"""
import argparse
import asyncio
import os
import signal
import sys

CHUNK = 1 << 16


async def pump(reader, writer, sink):
    """Copies reader to writer, appending every chunk to sink, until EOF;
    then half-closes writer so the peer sees the end too."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            sink.write(data)
            sink.flush()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError, RuntimeError):
            pass


class Proxy:
    def __init__(self, target_host, target_port, directory):
        self.target = (target_host, target_port)
        self.dir = directory
        self.count = 0
        self.tasks = set()

    async def handle(self, client_reader, client_writer):
        self.count += 1
        n = self.count
        task = asyncio.current_task()
        self.tasks.add(task)
        c2s = open(os.path.join(self.dir, f"conn-{n}.c2s"), "wb")
        s2c = open(os.path.join(self.dir, f"conn-{n}.s2c"), "wb")
        server_writer = None
        try:
            try:
                server_reader, server_writer = await asyncio.open_connection(*self.target)
            except OSError as e:
                print(f"capture_proxy: conn-{n}: cannot reach {self.target}: {e}", file=sys.stderr)
                return
            await asyncio.gather(
                pump(client_reader, server_writer, c2s),
                pump(server_reader, client_writer, s2c),
            )
        finally:
            c2s.close()
            s2c.close()
            for w in (client_writer, server_writer):
                if w is not None:
                    w.close()
            self.tasks.discard(task)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--dir", required=True, help="where conn-<n>.c2s/.s2c go")
    ap.add_argument("--port", type=int, default=0, help="loopback port to listen on (0: any free one)")
    ap.add_argument("--port-file", help="write the listening port here once listening")
    args = ap.parse_args()
    host, _, port = args.target.rpartition(":")
    os.makedirs(args.dir, exist_ok=True)
    proxy = Proxy(host or "127.0.0.1", int(port), args.dir)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.port)
    listening = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{listening}\n")
        os.replace(tmp, args.port_file)
    print(listening, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    for t in list(proxy.tasks):
        t.cancel()
    await asyncio.gather(*proxy.tasks, return_exceptions=True)
    await server.wait_closed()
    print(f"capture_proxy: {proxy.count} connections captured", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
