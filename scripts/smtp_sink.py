"""A mail server for tests: accepts every message on a loopback port and writes each, as
received (headers and body), to its own file in a directory, which the tests read.

Usage: smtp_sink.py --port PORT --dir DIRECTORY
Runs until killed. Offers no STARTTLS and no authentication, like a local relay."""

import argparse
import asyncio
import os
import signal
import tempfile

from aiosmtpd.controller import Controller


class WriteToDirectory:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        # Written to a temporary name and renamed, so a reader never sees half a message.
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".incoming-")
        with os.fdopen(fd, "wb") as f:
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(content)
        os.rename(temporary, os.path.join(self.directory, f"{self.count:06d}.eml"))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        WriteToDirectory(args.dir), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
