"""call URL QUEUE BODY: one RPC; prints the reply's payload and a newline."""
import os
import sys

from switch_client import Client, SwitchError


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: call URL QUEUE BODY", file=sys.stderr)
        return 2
    _, url, queue, body = argv
    try:
        with Client(url, f"call-python:{os.getpid()}") as client:
            # The argument's own bytes, whatever they are (os.fsencode undoes Python's decoding of argv).
            reply = client.rpc(queue, os.fsencode(body))
    except SwitchError as error:
        print(f"call: {error}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(reply + b"\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
