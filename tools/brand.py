"""Draw Hold Slayer's brand images: a phone handset struck through by a sword.

    .venv/bin/python tools/brand.py        # writes custom_components/hold_slayer/brand/*.png

Flat shapes on a transparent background, drawn at 4x and scaled down (smooth edges), so the
images can be regenerated and changed here instead of in an image editor. ``icon.png`` is
256x256, ``icon@2x.png`` 512x512 (Home Assistant's brand sizes); ``logo.png`` puts the name
beside the mark (256 px high).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

OUT: Final = Path(__file__).parent.parent / "custom_components" / "hold_slayer" / "brand"
DRAW: Final = 2048  # the canvas the mark is drawn on; scaled down to each size
HANDSET: Final = (3, 155, 229, 255)  # blue: the call
HANDSET_EDGE: Final = (1, 87, 155, 255)
BLADE: Final = (236, 239, 241, 255)  # steel
BLADE_EDGE: Final = (55, 71, 79, 255)
GUARD: Final = (255, 179, 0, 255)  # gold
WORDMARK: Final = (84, 110, 122, 255)  # readable on light and dark backgrounds


def _px(value: float) -> int:
    return round(value * DRAW)


def _handset() -> Image.Image:
    """A handset lying on its back (ear and mouth pieces down), tilted like a phone glyph."""
    layer = Image.new("RGBA", (DRAW, DRAW), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    edge = _px(0.018)
    cx, cy, rx, ry = 0.5, 0.58, 0.36, 0.22
    box = [_px(cx - rx), _px(cy - ry), _px(cx + rx), _px(cy + ry)]
    # The handle: the top of an ellipse, drawn as a thick arc (edge colour first, then fill).
    draw.arc(box, 196, 344, fill=HANDSET_EDGE, width=_px(0.13))
    inner = [box[0] + edge, box[1] + edge, box[2] - edge, box[3] - edge]
    draw.arc(inner, 198, 342, fill=HANDSET, width=_px(0.13) - 2 * edge)
    for angle in (200, 340):  # the ear and mouth cups at the handle's ends
        x = cx + rx * math.cos(math.radians(angle))
        cup = [_px(x - 0.12), _px(0.48), _px(x + 0.12), _px(0.67)]
        draw.rounded_rectangle(cup, radius=_px(0.06), fill=HANDSET, outline=HANDSET_EDGE, width=edge)
    return layer.rotate(-35, resample=Image.Resampling.BICUBIC)


def _sword() -> Image.Image:
    """A sword pointing up, then turned to cut across the handset (point to the upper right)."""
    layer = Image.new("RGBA", (DRAW, DRAW), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    edge = _px(0.014)
    blade = [(0.5, 0.04), (0.545, 0.13), (0.545, 0.66), (0.455, 0.66), (0.455, 0.13)]
    draw.polygon([(_px(x), _px(y)) for x, y in blade], fill=BLADE, outline=BLADE_EDGE, width=edge)
    draw.line([(_px(0.5), _px(0.14)), (_px(0.5), _px(0.62))], fill=BLADE_EDGE, width=_px(0.01))  # fuller
    guard = [_px(0.35), _px(0.65), _px(0.65), _px(0.71)]
    draw.rounded_rectangle(guard, radius=_px(0.025), fill=GUARD, outline=BLADE_EDGE, width=edge)
    grip = [_px(0.47), _px(0.71), _px(0.53), _px(0.87)]
    draw.rounded_rectangle(grip, radius=_px(0.015), fill=BLADE_EDGE)
    pommel = [_px(0.455), _px(0.86), _px(0.545), _px(0.95)]
    draw.ellipse(pommel, fill=GUARD, outline=BLADE_EDGE, width=edge)
    return layer.rotate(-45, resample=Image.Resampling.BICUBIC)


def mark() -> Image.Image:
    """The mark at the drawing size (DRAW x DRAW, transparent)."""
    image = _handset()
    image.alpha_composite(_sword())
    return image


def logo(mark_image: Image.Image, height: int = 256) -> Image.Image:
    """The mark with "Hold Slayer" beside it."""
    font = ImageFont.load_default(size=round(height * 0.36))
    text = "Hold Slayer"
    left, top, right, bottom = (round(value) for value in font.getbbox(text))
    width = height + round(height * 0.08) + (right - left) + round(height * 0.1)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.alpha_composite(mark_image.resize((height, height), Image.Resampling.LANCZOS))
    draw = ImageDraw.Draw(image)
    x = height + round(height * 0.08) - left
    y = (height - (bottom - top)) // 2 - top
    draw.text((x, y), text, font=font, fill=WORDMARK)
    return image


def main() -> None:
    """Write the brand images."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write into")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    drawn = mark()
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        drawn.resize((size, size), Image.Resampling.LANCZOS).save(args.out / name, optimize=True)
        print(f"wrote {args.out / name} ({size}x{size})")
    image = logo(drawn)
    image.save(args.out / "logo.png", optimize=True)
    print(f"wrote {args.out / 'logo.png'} ({image.width}x{image.height})")


if __name__ == "__main__":
    main()
