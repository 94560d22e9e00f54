"""Thumbnails of images (SPEC M6): the chat page shows a small picture, not a phone's 5 MB
photo. Made the first time it is shown, kept in the storage beside the file (and removed with it
by retention); an image Pillow cannot read (or one too large to decode safely) has none, and the
page shows its named link alone."""

import logging

from django.db.models import Q
from PIL import Image, ImageOps

from whatsapp.media import storage
from whatsapp.media.models import MediaFile

log = logging.getLogger(__name__)

SIZE = (480, 480)  # twice the displayed box, for sharp screens
# An image that decodes to more pixels than this is not thumbnailed (a "decompression bomb"
# would take the web worker's memory): 40 megapixels is more than any phone's photo.
MAX_PIXELS = 40_000_000


class NoThumbnail(Exception):
    pass


def thumbnail_of(media):
    """The storage name of `media`'s thumbnail, made now if it has none; NoThumbnail if the file
    is not an image that can be read."""
    if media.thumbnail:
        return media.thumbnail
    try:
        with storage.open_file(media.name) as source, storage.spool() as out:
            _shrink(source, out)
            name = storage.save(
                storage.path_for(media.workspace_id, "thumbnail.jpg", "thumbs"), out
            )
    except Exception as exc:  # not an image, a broken one, a bomb, a storage error
        log.info("no thumbnail for message %s: %s", media.message_id, exc)
        raise NoThumbnail(str(exc)) from None
    # Another request may have made one meanwhile: keep the first, drop ours.
    if MediaFile.objects.filter(Q(thumbnail=""), pk=media.pk).update(thumbnail=name):
        media.thumbnail = name
        return name
    storage.delete(name)
    return MediaFile.objects.values_list("thumbnail", flat=True).get(pk=media.pk)


def _shrink(source, out):
    with Image.open(source) as image:
        if image.width * image.height > MAX_PIXELS:
            raise ValueError(f"{image.width}x{image.height} is too large to decode")
        image = ImageOps.exif_transpose(image)
        image.thumbnail(SIZE)
        if image.mode != "RGB":
            background = Image.new("RGB", image.size, "white")
            image = image.convert("RGBA")
            background.paste(image, mask=image.getchannel("A"))
            image = background
        image.save(out, "JPEG", quality=82)
