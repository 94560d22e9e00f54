from django.urls import path

from whatsapp import views, waha_events

app_name = "whatsapp"

urlpatterns = [
    path("w/<int:workspace_id>/chats/", views.chats, name="chats"),
    # The form chat_url takes in outbound payloads (SPEC "Concepts"): no workspace in it.
    path("chat/<int:chat_id>/messages/", views.chat_messages, name="chat"),
    path("whatsapp/waha/<str:secret>/", waha_events.events, name="waha_events"),
]
