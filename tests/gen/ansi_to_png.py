#!/usr/bin/env python3
"""Renders a terminal screen captured with `tmux capture-pane -e -p` (text with SGR colour escapes) to a
PNG picture, cell by cell in a monospace font, as a dark-background xterm would draw it.

usage: ansi_to_png.py COLS ROWS IN.txt OUT.png [CURSOR_X CURSOR_Y]

With CURSOR_X and CURSOR_Y (tmux: #{cursor_x} #{cursor_y}) the cursor is drawn as a block.
Handles what tmux emits for a pane: SGR 0/1/2/3/4/7 and their resets (22/23/24/27), the 8 and 16
colours (30-37, 90-97, 40-47, 100-107), 256 colours (38;5;N, 48;5;N), true colour (38;2;R;G;B) and the
defaults (39, 49). Wide characters (East Asian W/F) take two cells. Needs Pillow and DejaVu Sans Mono
(Debian: python3-pil fonts-dejavu-core). Glyphs the font lacks are drawn as its box."""
import re
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
SIZE = 14
DEFAULT_FG = (208, 208, 208)
DEFAULT_BG = (24, 24, 28)
# xterm's 16 colours
BASE16 = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
          (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
          (255, 0, 255), (0, 255, 255), (255, 255, 255)]


def color256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + 10 * (n - 232)
    return (v, v, v)


class Attr:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.reverse = self.underline = False

    def copy(self):
        a = Attr()
        a.__dict__.update(self.__dict__)
        return a

    def apply(self, params):
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    col = color256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    col = tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    col = None
                if c == 38:
                    self.fg = col
                else:
                    self.bg = col
            i += 1

    def colors(self):
        fg = self.fg or DEFAULT_FG
        bg = self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = tuple((f + b) // 2 for f, b in zip(fg, bg))
        return fg, bg


SGR = re.compile(r"\x1b\[([0-9;]*)m")
OTHER_ESC = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9]|.)")


def cells_of(line, attr):
    """[(char, width, Attr)] for one captured line; attr carries over to the next line."""
    out = []
    pos = 0
    while pos < len(line):
        m = SGR.match(line, pos)
        if m:
            attr.apply(m.group(1))
            pos = m.end()
            continue
        m = OTHER_ESC.match(line, pos)
        if m:
            pos = m.end()
            continue
        ch = line[pos]
        pos += 1
        if unicodedata.combining(ch) and out:
            c, w, a = out[-1]
            out[-1] = (c + ch, w, a)
            continue
        w = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        out.append((ch, w, attr.copy()))
    return out


def main():
    if len(sys.argv) not in (5, 7):
        sys.exit(__doc__.split("\n\n")[1])
    cols, rows = int(sys.argv[1]), int(sys.argv[2])
    text = open(sys.argv[3], encoding="utf-8", errors="replace").read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", SIZE)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", SIZE)
    cw = round(regular.getlength("M"))
    asc, desc = regular.getmetrics()
    ch = asc + desc + 2
    pad = 6
    img = Image.new("RGB", (cols * cw + 2 * pad, rows * ch + 2 * pad), DEFAULT_BG)
    d = ImageDraw.Draw(img)
    attr = Attr()
    for y, line in enumerate(lines[:rows]):
        x = 0
        for c, w, a in cells_of(line, attr):
            if x >= cols:
                break
            fg, bg = a.colors()
            px, py = pad + x * cw, pad + y * ch
            d.rectangle([px, py, px + w * cw - 1, py + ch - 1], fill=bg)
            if c != " ":
                d.text((px, py + 1), c, font=bold if a.bold else regular, fill=fg)
            if a.underline:
                d.line([px, py + ch - 2, px + w * cw - 1, py + ch - 2], fill=fg)
            x += w
    if len(sys.argv) == 7:
        px, py = pad + int(sys.argv[5]) * cw, pad + int(sys.argv[6]) * ch
        d.rectangle([px, py, px + cw - 1, py + ch - 1], fill=DEFAULT_FG)
    img.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(sys.argv[4], optimize=True)


if __name__ == "__main__":
    main()
