"""Files for the media tests: a real PNG of a given size, and a received message carrying a file
stored as the simulator stores it."""

import struct
import zlib

from whatsapp.transports.simulator import simulator_for


def png(width=64, height=48, rgb=(40, 150, 120)):
    """A valid PNG of one colour."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def receive_file(account, tmp_path, name, content, phone="+14151231234", text=""):
    """A message received by a simulator account with the file `name` holding `content`."""
    path = tmp_path / name
    path.write_bytes(content)
    return simulator_for(account).receive(from_phone=phone, text=text, file=str(path))
