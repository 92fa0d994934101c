"""A photo as Telegram keeps it: the sizes it makes, smallest first, the largest last."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

# The longest sides of the sizes Telegram makes of a photo (its "s", "m", "x", "y", "w"
# thumbnail types); the ones not smaller than the photo itself are left out.
SIDES = (90, 320, 800, 1280, 2560)
# https://core.telegram.org/bots/api#sendphoto: "The photo's width and height must not exceed
# 10000 in total. Width and height ratio must be at most 20."
MAX_SIDES = 10_000
MAX_RATIO = 20


class NotAnImage(ValueError):
    """The bytes are no image Telegram could process."""


class InvalidDimensions(ValueError):
    """An image sendPhoto refuses for its shape: PHOTO_INVALID_DIMENSIONS."""


def check_sendable(data: bytes) -> None:
    """Raise unless sendPhoto takes the image: an image, within Telegram's dimension limits."""
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header, not the pixels
            width, height = image.size
    except (UnidentifiedImageError, OSError) as error:
        raise NotAnImage(str(error)) from error
    if width + height > MAX_SIDES or max(width, height) > MAX_RATIO * min(width, height):
        raise InvalidDimensions(f"{width}x{height}")


def sizes(data: bytes) -> list[tuple[int, int, bytes]]:
    """(width, height, bytes) of each size, ending with the photo as it was sent.

    The real service re-encodes the largest size too; the double keeps the sent bytes there, so
    that a test can compare what a citizen sent with what the adapter stored.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            made = []
            for side in SIDES:
                if side >= max(width, height):
                    break
                thumbnail = image.convert("RGB")
                thumbnail.thumbnail((side, side))
                out = io.BytesIO()
                thumbnail.save(out, "JPEG", quality=80)
                made.append((*thumbnail.size, out.getvalue()))
    except (UnidentifiedImageError, OSError) as error:
        raise NotAnImage(str(error)) from error
    return [*made, (width, height, data)]
