from django.urls import path

from whatsapp import views, waha_connect, waha_webhook
from whatsapp.governor import pages as governor
from whatsapp.media import views as media_views

app_name = "whatsapp"

urlpatterns = [
    path("w/<int:workspace_id>/chats/", views.chats, name="chats"),
    # The form chat_url takes in outbound payloads (SPEC "Concepts"): no workspace in it.
    path("chat/<int:chat_id>/messages/", views.chat_messages, name="chat"),
    path("chat/<int:chat_id>/reply/", views.reply, name="reply"),
    path("chat/<int:chat_id>/statuses/", views.statuses, name="statuses"),
    path("chat/<int:chat_id>/assign/", views.assign, name="assign"),
    path("chat/<int:chat_id>/files/<str:message_id>/", media_views.message_file, name="file"),
    path("whatsapp/waha/<str:secret>/", waha_webhook.events, name="waha_events"),
    path("w/<int:workspace_id>/accounts/", waha_connect.accounts, name="accounts"),
    path("w/<int:workspace_id>/accounts/connect/", waha_connect.connect, name="waha_connect"),
    path(
        "w/<int:workspace_id>/accounts/<int:account_id>/policy/",
        governor.save_policy,
        name="account_policy",
    ),
    path("w/<int:workspace_id>/accounts/<int:account_id>/pause/", governor.pause, name="pause"),
    path("w/<int:workspace_id>/accounts/<int:account_id>/resume/", governor.resume, name="resume"),
    path(
        "w/<int:workspace_id>/accounts/connect/<int:connection_id>/",
        waha_connect.connecting,
        name="waha_connecting",
    ),
    path(
        "w/<int:workspace_id>/accounts/connect/<int:connection_id>/qr.png",
        waha_connect.qr_code,
        name="waha_qr",
    ),
]
