#!/usr/bin/env python3
"""Opens N mutual-TLS connections to a webhookd on 127.0.0.1, completes each handshake, keeps them idle,
and prints the server's resident memory and thread count before and after (ARCHITECTURE.md: 10,000 idle
connections must cost memory, not threads). Usage: idle_connections.py PORT PID CA CERT KEY [N]"""
import asyncio, resource, ssl, sys, time

port, pid, ca, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
count = int(sys.argv[6]) if len(sys.argv) > 6 else 10000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def status():
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])

async def main():
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    context.check_hostname = False
    rss0, threads0 = status()
    writers, started = [], time.monotonic()
    semaphore = asyncio.Semaphore(200)
    async def open_one():
        async with semaphore:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            writers.append(writer)
    results = await asyncio.gather(*(open_one() for _ in range(count)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, Exception)]
    elapsed = time.monotonic() - started
    await asyncio.sleep(2)  # let the server finish its side of the last handshakes
    rss1, threads1 = status()
    print(f"connections open: {len(writers)} (failed {len(failures)}) in {elapsed:.1f} s")
    print(f"server RSS: {rss0/1024:.1f} MiB -> {rss1/1024:.1f} MiB "
          f"({(rss1-rss0)/max(len(writers),1):.1f} KiB per idle connection); threads: {threads0} -> {threads1}")
    if failures:
        print("first failure:", repr(failures[0]))
    for writer in writers:
        writer.close()

asyncio.run(main())
