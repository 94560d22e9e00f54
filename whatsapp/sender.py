"""The paced sender (I11). Placeholder until the paced sender lands."""


def wake(account_id):
    """Make sure the account's queued messages will be sent."""
