"""A message after signing in and out, like after every other action."""

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver


@receiver(user_logged_in)
def signed_in(sender, request, user, **kwargs):
    # fail_silently: the test client's login() has no messages storage on its request.
    name = user.get_full_name() or user.get_username()
    messages.success(request, f"Signed in as {name}.", fail_silently=True)


@receiver(user_logged_out)
def signed_out(sender, request, user, **kwargs):
    messages.info(request, "You have been signed out.", fail_silently=True)
