from django.urls import path

from credits import views

app_name = "credits"

urlpatterns = [
    path("w/<int:workspace_id>/credits/", views.index, name="index"),
]
