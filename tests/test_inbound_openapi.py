"""The OpenAPI schema at /api/schema/ documents the inbound endpoint and its status lookup."""

import pytest

pytestmark = pytest.mark.django_db


def test_it_documents_the_fields_examples_and_every_error_code(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    send = paths["/webhooks/inbound/{token}/"]["post"]
    body = send["requestBody"]["content"]["application/json"]
    fields = set(body["schema"]["properties"])
    assert {"action", "text", "file_url", "file_name", "chat_id", "jid", "phone"} <= fields
    assert {"chat_name", "whatsapp_account_phone", "whatsapp account phone"} <= fields
    examples = [example["value"] for example in body["examples"].values()]
    assert {
        "action": "send",
        "whatsapp account phone": "+15105566777",
        "phone": "+14151231234",
        "text": "lorem ipsum",
    } in examples
    assert set(send["responses"]) == {"200", "400", "402", "403", "404", "405", "409", "413", "422"}
    status = paths["/webhooks/inbound/{token}/messages/{message_id}/"]["get"]
    assert {"200", "404"} <= set(status["responses"])
    assert "/webhooks/inbound/{token}" not in paths  # the slashless alias stays out


def test_it_shows_the_answer_to_the_seeds_example_2_as_printed(client, inbound_webhook):
    from tests.inbound_helpers import fixture_body, post

    schema = client.get("/api/schema/", {"format": "json"}).json()
    bad_request = schema["paths"]["/webhooks/inbound/{token}/"]["post"]["responses"]["400"]
    documented = [
        e["value"] for e in bad_request["content"]["application/json"]["examples"].values()
    ]
    assert post(client, inbound_webhook, fixture_body("example_2.json")).json() in documented
