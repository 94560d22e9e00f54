"""Transports for the sender's tests, registered with override_settings or a settings module."""

import json
import os
import time
import uuid

from whatsapp.transports import Transport, TransportError


class FlakyTransport(Transport):
    """Fails with a temporary error `fail_times` times per message (transport_settings), then
    sends; records every call in `calls`."""

    calls = []

    def send(self, message, attachment=None):
        FlakyTransport.calls.append(message.message_id)
        if FlakyTransport.calls.count(message.message_id) <= self.settings.get("fail_times", 0):
            raise TransportError("WhatsApp is busy, try again later", permanent=False)
        return f"flaky-{uuid.uuid4().hex}"


class RecordingTransport(Transport):
    """Appends one JSON line per call to the file in $SENDER_TEST_LOG (flushed before it
    returns), sleeping `delay` seconds inside the call: a process killed meanwhile leaves a
    message caught in the middle of the transport call."""

    def send(self, message, attachment=None):
        with open(os.environ["SENDER_TEST_LOG"], "a") as log:
            log.write(json.dumps({"message_id": message.message_id, "at": time.time()}) + "\n")
        time.sleep(float(self.settings.get("delay", 0)))
        return f"rec-{uuid.uuid4().hex}"
