"""Drawing primitives of the charts: a canvas with lines, boxes, dots and turned text, and fonts.

Text uses Pillow's embedded scalable font (FreeType); turned labels are drawn on a small mask
that is rotated and pasted, and short texts, which come back in picture after picture, are
rendered once and pasted after. The fonts and those masks are cached and shared between calls
and FreeType makes no thread-safety promise for them, so callers draw under
`bot.follow.charts`'s lock.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from bot.core.mrkdwn import shorten

__all__ = ["Canvas", "Colour", "Point", "draw_title", "load_font", "text_width"]

_MAX_TITLE = 90
# Texts up to this long (ticks, axis names, legends, labels) come back in picture after
# picture: each is rendered once, then pasted (`_text_mask`). Titles name a model: drawn anew.
_CACHED_TEXT = 32
# A picture's palette is chosen from one pixel in this many, across and down.
_PALETTE_STEP = 4

Point = tuple[float, float]
Colour = str | tuple[int, int, int]


@functools.cache
def load_font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("charts need Pillow with FreeType for scalable text")
    return font


def text_width(text: str, size: int) -> float:
    return load_font(size).getlength(text)


class Canvas:
    """A white picture; coordinates are final pixels, drawing happens at `scale` times that.

    Drawn at twice the size and shrunk, slanted lines come out antialiased. A heat map has none
    and would take four times the memory, so it is drawn at its final size.
    """

    def __init__(self, width: int, height: int, *, scale: int = 1) -> None:
        self.size, self.scale = (width, height), scale
        self.image = Image.new("RGB", (width * scale, height * scale), "white")
        self.draw = ImageDraw.Draw(self.image)

    def line(self, points: Sequence[Point], colour: Colour, width: float = 1.0) -> None:
        scaled = [(x * self.scale, y * self.scale) for x, y in points]
        self.draw.line(scaled, fill=colour, width=round(width * self.scale), joint="curve")

    def box(self, box: tuple[float, float, float, float], *, fill: Colour | None = None) -> None:
        """A filled box, or a thin black frame without `fill`."""
        scaled = tuple(v * self.scale for v in box)
        outline = None if fill else "black"
        self.draw.rectangle(scaled, fill=fill, outline=outline, width=self.scale)

    def dot(self, x: float, y: float, colour: Colour) -> None:
        x, y, r = x * self.scale, y * self.scale, 2.8 * self.scale
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def text(
        self,
        at: Point,
        text: str,
        size: int,
        anchor: str = "mm",
        *,
        colour: str = "black",
        angle: float = 0.0,
    ) -> None:
        """`text` with its `anchor` (Pillow's two-letter code) at `at`.

        With an `angle`, turned that many degrees anticlockwise about the anchor: its mask
        (`_text_mask`) is rotated, then pasted through.
        """
        x, y, size = at[0] * self.scale, at[1] * self.scale, size * self.scale
        if not angle:
            if len(text) <= _CACHED_TEXT and x >= 0 and y >= 0:
                self._paste_text((x, y), text, size, anchor, colour)
            else:
                self.draw.text((x, y), text, fill=colour, font=load_font(size), anchor=anchor)
            return
        rendered = _text_mask(text, size, anchor, (0.0, 0.0))
        if rendered is None:
            return
        mask, left, top = rendered  # the anchor is at (-left, -top) in the mask
        turned = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        # The anchor's offset from the mask's centre turns with the mask.
        dx, dy = -left - mask.width / 2, -top - mask.height / 2
        cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        x -= turned.width / 2 + dx * cos + dy * sin
        y -= turned.height / 2 - dx * sin + dy * cos
        self.image.paste(colour, (round(x), round(y)), turned)

    def _paste_text(self, at: Point, text: str, size: int, anchor: str, colour: str) -> None:
        """`text` pasted from `_text_mask` where Pillow would draw it: at the whole part of
        the point, its glyphs rendered for the fractional part."""
        x, y = at
        rendered = _text_mask(text, size, anchor, (math.modf(x)[0], math.modf(y)[0]))
        if rendered is not None:
            mask, left, top = rendered
            self.draw.bitmap((int(x) + left, int(y) + top), mask, fill=colour)

    def png(self) -> bytes:
        buffer = io.BytesIO()
        # Averaging each scale x scale block is what antialiasing a supersampled picture needs,
        # at a sixth of a Lanczos resize's cost. A chart has few colours: as a 256-colour
        # palette picture it encodes in two thirds of the time (the PNG row filters are what
        # costs, and palette rows skip them) and in half the bytes; level 1 compresses a chart
        # nearly as well as the default.
        picture = self.image.reduce(self.scale) if self.scale > 1 else self.image
        palette = picture.quantize(palette=_palette(picture), dither=Image.Dither.NONE)
        palette.save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()


@functools.lru_cache(maxsize=1024)
def _text_mask(
    text: str, size: int, anchor: str, start: tuple[float, float]
) -> tuple[Image.Image, int, int] | None:
    """`text` as Pillow draws it at a point whose fractional part is `start`: its antialiased
    mask, and where the mask goes from the point's whole part; None when nothing shows.

    Pasting the mask gives the pixels drawing the text there would, at an eighth of the cost
    (a tick label 4.5 against 34 µs, a legend entry 17 against 157).
    """
    font = load_font(size)
    left, top, right, bottom = font.getbbox(text, anchor=anchor)
    margin = 2
    origin = (margin - math.floor(left), margin - math.floor(top))
    width = math.ceil(right) - math.floor(left) + 2 * margin
    height = math.ceil(bottom) - math.floor(top) + 2 * margin
    mask = Image.new("L", (width, height))
    at = (origin[0] + start[0], origin[1] + start[1])
    ImageDraw.Draw(mask).text(at, text, fill=255, font=font, anchor=anchor)
    box = mask.getbbox()
    if box is None:
        return None
    return mask.crop(box), box[0] - origin[0], box[1] - origin[1]


def _palette(picture: Image.Image) -> Image.Image:
    """256 colours for `picture`, chosen from every `_PALETTE_STEP`th pixel of every such row.

    A chart's colours fill areas and long lines, so the sample holds them, and a colour it
    misses (an edge's blend) gets the nearest one. Choosing from every pixel was two thirds of
    the quantizing, and the quantizing a quarter of a training's drawing.
    """
    width, height = picture.size
    sample = picture.resize(
        (max(1, width // _PALETTE_STEP), max(1, height // _PALETTE_STEP)),
        Image.Resampling.NEAREST,
    )
    return sample.quantize(256, method=Image.Quantize.FASTOCTREE)


def draw_title(canvas: Canvas, title: str, centre: float) -> None:
    """The title, cut to `_MAX_TITLE` characters, in a smaller font if that's what fits."""
    title = shorten(title, _MAX_TITLE)
    room = 2 * min(centre, canvas.size[0] - centre) - 20
    size = next((size for size in range(16, 10, -1) if text_width(title, size) <= room), 10)
    canvas.text((centre, 22), title, size)
