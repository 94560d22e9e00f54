"""The benches' accounts: N connected simulator accounts of one workspace, one chat each, made in
bulk (the setup is not what is measured)."""


def accounts_with_chats(workspace, owner, n, now, transport_settings=None):
    """N connected accounts (+1510555xxxx), each with a chat (+1415666xxxx); returns the chats."""
    from whatsapp.models import Account, Chat

    accounts = Account.objects.bulk_create(
        Account(
            workspace=workspace,
            phone=f"+1510555{i:04d}",
            connected_by=owner,
            status=Account.CONNECTED,
            last_connected_at=now,
            transport_settings=transport_settings or {},
        )
        for i in range(n)
    )
    return Chat.objects.bulk_create(
        Chat(
            account=account,
            jid=f"1415666{i + 1:04d}@s.whatsapp.net",
            phone=f"+1415666{i + 1:04d}",
            name=f"Contact {i}",
        )
        for i, account in enumerate(accounts)
    )
