"""serve URL QUEUE: answers each request on QUEUE with its body upper-cased, until killed."""
import os
import signal
import sys

from switch_client import Client, SwitchError


def upper(request: bytes) -> bytes:
    # bytes.upper changes ASCII a-z only: every other byte, UTF-8 or binary, goes back as it came.
    return request.upper()


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: serve URL QUEUE", file=sys.stderr)
        return 2
    _, url, queue = argv
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda *_: sys.exit(0))
    try:
        with Client(url, f"serve-python:{os.getpid()}") as client:
            client.serve(queue, upper, ready=lambda: print(f"serving {queue}", flush=True))
    except SwitchError as error:
        print(f"serve: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
