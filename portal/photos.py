"""Photos a citizen attaches: the type is read from the content (Pillow), never from the name or
the browser's claim; size and pixel count are bounded; every photo is decoded and re-encoded, which
drops its EXIF block (GPS position, camera, time) and any other metadata."""
from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from .exceptions import PortalError

MAX_PHOTOS = 3
MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
#: the largest request the submit form may send (the photos plus the text fields)
MAX_REQUEST = MAX_PHOTOS * MAX_BYTES + 256 * 1024


@dataclass(frozen=True)
class Photo:
    name: str
    content_type: str
    data: bytes


def clean(uploads: list[tuple[str, bytes]]) -> list[Photo]:
    """Check and re-encode every upload ((filename, bytes); empty file inputs are skipped)."""
    uploads = [(name, data) for name, data in uploads if data]
    if len(uploads) > MAX_PHOTOS:
        raise PortalError(f"最多上传 {MAX_PHOTOS} 张图片", 422, "photos")
    return [_one(i + 1, data) for i, (_name, data) in enumerate(uploads)]


def _one(index: int, data: bytes) -> Photo:
    if len(data) > MAX_BYTES:
        raise PortalError(f"第 {index} 张图片超过 {MAX_BYTES // (1024 * 1024)} MB，请压缩后再上传", 413, "photos")
    try:
        image = Image.open(BytesIO(data))
        kind = image.format
        if kind not in FORMATS:
            raise PortalError(f"第 {index} 张文件不是支持的图片格式（仅支持 JPG、PNG、WebP）", 415, "photos")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise PortalError(f"第 {index} 张图片像素过多（{width}×{height}），请缩小后再上传", 413, "photos")
        image.load()
        image = ImageOps.exif_transpose(image)  # keep the picture upright once the EXIF tag is gone
    except PortalError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise PortalError(f"第 {index} 张文件不是有效的图片（仅支持 JPG、PNG、WebP）", 415, "photos") from None
    content_type, ext = FORMATS[kind]
    out = BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=85)
    elif kind == "PNG":
        image.save(out, "PNG", optimize=False)
    else:
        image.save(out, "WEBP", quality=85)
    return Photo(name=f"照片{index}.{ext}", content_type=content_type, data=out.getvalue())
