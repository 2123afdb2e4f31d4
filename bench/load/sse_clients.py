#!/usr/bin/env python3
"""Holds N Server-Sent-Event streams of reamd open (GET /v1/jobs/{id}/events) for the
load bench: round-robin over the given job ids, reading and discarding what arrives.
Prints how many streams answered 200 once all have answered, then keeps them open until
it is killed or `seconds` pass. Usage: sse_clients.py PORT SECONDS N ID [ID ...]"""
import asyncio
import sys


async def stream(port, job_id, opened, answered):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /v1/jobs/{job_id}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    answered.append(1)
    if b" 200 " in status:
        opened.append(1)
    while await reader.read(65536):
        pass


async def main():
    port, seconds, n = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    ids = sys.argv[4:]
    opened, answered = [], []
    tasks = [asyncio.create_task(stream(port, ids[i % len(ids)], opened, answered)) for i in range(n)]
    while len(answered) < n and not all(t.done() for t in tasks):
        await asyncio.sleep(0.1)
    print(f"sse_streams_open {len(opened)} of {n}", flush=True)
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()


asyncio.run(main())
