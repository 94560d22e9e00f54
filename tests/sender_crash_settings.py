"""Settings for the qcluster processes of the sender's crash test: the test suite's settings plus
a transport that records every call in a file."""

from tests.settings import *  # noqa: F403

WHATSAPP_TRANSPORTS = {
    **WHATSAPP_TRANSPORTS,  # noqa: F405
    "recording": "tests.sender_transports.RecordingTransport",
}
