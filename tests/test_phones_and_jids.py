import pytest

from whatsapp.jids import InvalidJid, contact_jid, is_group_jid, normalize_jid, to_c_us
from whatsapp.phones import InvalidPhone, normalize_phone


@pytest.mark.parametrize(
    "raw", ["+14151231234", "+1 415 123 1234", "+1 (415) 123-1234", " +1-415-123-1234 "]
)
def test_it_normalises_phones_to_e164(raw):
    assert normalize_phone(raw) == "+14151231234"


@pytest.mark.parametrize("raw", ["14151231234", "+1415", "+999123456789", "phone", "", None])
def test_it_rejects_numbers_that_are_not_valid_international_numbers(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_it_accepts_both_contact_jid_forms():
    assert normalize_jid("14151231234@c.us") == "14151231234@s.whatsapp.net"
    assert normalize_jid("14151231234@s.whatsapp.net") == "14151231234@s.whatsapp.net"
    assert to_c_us("14151231234@s.whatsapp.net") == "14151231234@c.us"
    assert contact_jid("+14151231234") == "14151231234@s.whatsapp.net"


def test_it_recognises_group_jids():
    assert normalize_jid("120363000000000000@g.us") == "120363000000000000@g.us"
    assert is_group_jid("120363000000000000@g.us")
    assert not is_group_jid("14151231234@s.whatsapp.net")


@pytest.mark.parametrize("raw", ["john", "123@example.com", "@g.us", "abc@s.whatsapp.net"])
def test_it_rejects_what_is_not_a_jid(raw):
    with pytest.raises(InvalidJid):
        normalize_jid(raw)
