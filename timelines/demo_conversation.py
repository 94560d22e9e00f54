"""The demo's first conversation (SPEC M1): text both ways, a received photo and a PDF, and one
send that failed, so the first screen a newcomer sees shows what the product does. The files are
made here (a small PNG, a one-page PDF) and received through the simulator like any file."""

import struct
import tempfile
import zlib
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from whatsapp.models import Chat, Message
from whatsapp.store import store_message
from whatsapp.transports.simulator import FAILING_SUFFIX, simulator_for

NOT_ON_WHATSAPP = "+1415555" + FAILING_SUFFIX


def seed(account, chat):
    """Once: only a chat with no messages gets the conversation."""
    if chat.messages.exists():
        return False
    receive = simulator_for(account).receive
    phone, name = chat.phone, chat.name
    receive(from_phone=phone, name=name, text="Hi! Is my order ready? Here is the receipt.")
    with tempfile.TemporaryDirectory() as folder:
        photo, invoice = Path(folder) / "receipt.png", Path(folder) / "invoice.pdf"
        photo.write_bytes(png())
        invoice.write_bytes(PDF)
        receive(from_phone=phone, name=name, text="", file=str(photo))
        receive(from_phone=phone, name=name, text="And last month's invoice", file=str(invoice))
    now = timezone.now()
    store_message(
        chat, direction=Message.SENT, origin=Message.ORIGIN_WEB, status=Message.SENT,
        text="Thanks John, it is ready: pick it up any time before 6 pm.", sent_at=now,
    )  # fmt: skip
    stranger, _ = Chat.get_or_create_direct(account, NOT_ON_WHATSAPP, direction="sent")
    store_message(
        stranger, direction=Message.SENT, origin=Message.ORIGIN_INBOUND_WEBHOOK,
        status=Message.FAILED, failed_at=now + timedelta(seconds=1), text="Your code is 4821",
        error=f"{NOT_ON_WHATSAPP} is not on WhatsApp. Its credits were refunded.",
    )  # fmt: skip
    return True


def png(width=240, height=160):
    """A small picture: a green card with a lighter band."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + (bytes((200, 236, 226)) if 60 <= y < 100 else bytes((16, 122, 104))) * width
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 44>>stream\nBT /F1 18 Tf 40 70 Td (Invoice 1042) Tj ET\nendstream endobj\n"
    b"5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
