def endpoints(r, workspace_id):
    pass


def endpoint_action(r, workspace_id, endpoint_id):
    pass


def download_log(r, workspace_id, endpoint_id):
    pass


def tokens(r, workspace_id):
    pass
