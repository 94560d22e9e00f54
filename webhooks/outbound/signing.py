"""Standard Webhooks signatures (O9, https://www.standardwebhooks.com/): receivers verify them
with the `standardwebhooks` library or twenty lines of their own."""

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret():
    """`whsec_` + base64 of 32 random bytes, the form the libraries accept."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_webhook_id():
    """The `webhook-id`: one per delivery, kept across its retries so receivers can de-duplicate."""
    return "msg_" + secrets.token_urlsafe(18)


def signature(secret, webhook_id, sent_at, body):
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the secret's decoded bytes."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{webhook_id}.{sent_at}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret, webhook_id, sent_at, body):
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(sent_at),
        "webhook-signature": signature(secret, webhook_id, sent_at, body),
    }
