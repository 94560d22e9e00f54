"""Template helpers for the files messages carry (SPEC M6)."""

from django import template

from whatsapp.media.serve import is_image as _is_image

register = template.Library()


@register.filter
def is_image(message):
    """True for a file shown as a thumbnail (raster images only)."""
    return _is_image(message)
