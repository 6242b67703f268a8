"""A horizontal bar chart as a PNG file, in pure Python (zlib only).

Enough for the benchmark's one chart, without matplotlib: filled
rectangles, a 5x7 bitmap font (upper case, digits, a little punctuation)
drawn at twice its size, and a PNG encoder.
"""

import struct
import zlib

# 5x7 glyphs, one int per row, bit 4 is the leftmost pixel.
_FONT = {
    ' ': (0, 0, 0, 0, 0, 0, 0),
    '0': (14, 17, 19, 21, 25, 17, 14), '1': (4, 12, 4, 4, 4, 4, 14),
    '2': (14, 17, 1, 2, 4, 8, 31), '3': (31, 2, 4, 2, 1, 17, 14),
    '4': (2, 6, 10, 18, 31, 2, 2), '5': (31, 16, 30, 1, 1, 17, 14),
    '6': (6, 8, 16, 30, 17, 17, 14), '7': (31, 1, 2, 4, 8, 8, 8),
    '8': (14, 17, 17, 14, 17, 17, 14), '9': (14, 17, 17, 15, 1, 2, 12),
    'A': (14, 17, 17, 17, 31, 17, 17), 'B': (30, 17, 17, 30, 17, 17, 30),
    'C': (14, 17, 16, 16, 16, 17, 14), 'D': (28, 18, 17, 17, 17, 18, 28),
    'E': (31, 16, 16, 30, 16, 16, 31), 'F': (31, 16, 16, 30, 16, 16, 16),
    'G': (14, 17, 16, 23, 17, 17, 15), 'H': (17, 17, 17, 31, 17, 17, 17),
    'I': (14, 4, 4, 4, 4, 4, 14), 'J': (7, 2, 2, 2, 2, 18, 12),
    'K': (17, 18, 20, 24, 20, 18, 17), 'L': (16, 16, 16, 16, 16, 16, 31),
    'M': (17, 27, 21, 21, 17, 17, 17), 'N': (17, 17, 25, 21, 19, 17, 17),
    'O': (14, 17, 17, 17, 17, 17, 14), 'P': (30, 17, 17, 30, 16, 16, 16),
    'Q': (14, 17, 17, 17, 21, 18, 13), 'R': (30, 17, 17, 30, 20, 18, 17),
    'S': (15, 16, 16, 14, 1, 1, 30), 'T': (31, 4, 4, 4, 4, 4, 4),
    'U': (17, 17, 17, 17, 17, 17, 14), 'V': (17, 17, 17, 17, 17, 10, 4),
    'W': (17, 17, 17, 21, 21, 21, 10), 'X': (17, 17, 10, 4, 10, 17, 17),
    'Y': (17, 17, 17, 10, 4, 4, 4), 'Z': (31, 1, 2, 4, 8, 16, 31),
    '.': (0, 0, 0, 0, 0, 12, 12), ',': (0, 0, 0, 0, 12, 4, 8),
    ':': (0, 12, 12, 0, 12, 12, 0), '-': (0, 0, 0, 31, 0, 0, 0),
    '+': (0, 4, 4, 31, 4, 4, 0), '/': (0, 1, 2, 4, 8, 16, 0),
    '(': (2, 4, 8, 8, 8, 4, 2), ')': (8, 4, 2, 2, 2, 4, 8),
    '=': (0, 0, 31, 0, 31, 0, 0), '%': (24, 25, 2, 4, 8, 19, 3),
    '_': (0, 0, 0, 0, 0, 0, 31), '<': (2, 4, 8, 16, 8, 4, 2),
    '>': (8, 4, 2, 1, 2, 4, 8), "'": (12, 4, 8, 0, 0, 0, 0),
    '*': (0, 4, 21, 14, 21, 4, 0), '?': (14, 17, 1, 2, 4, 0, 4),
}
SCALE = 2
CHAR_W = 6 * SCALE
CHAR_H = 7 * SCALE

WHITE = (255, 255, 255)
BLACK = (30, 30, 30)
GREY = (200, 200, 200)
DARK = (31, 119, 180)
LIGHT = (255, 160, 60)


class Canvas:
    def __init__(self, width, height, background=WHITE):
        self.width = width
        self.height = height
        self.rows = [bytearray(bytes(background) * width)
                     for _ in range(height)]

    def rect(self, x0, y0, x1, y1, color):
        x0, x1 = max(0, int(x0)), min(self.width, int(x1))
        y0, y1 = max(0, int(y0)), min(self.height, int(y1))
        if x1 <= x0:
            return
        span = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            self.rows[y][3 * x0:3 * x1] = span

    def text(self, x, y, text, color=BLACK):
        for i, char in enumerate(str(text).upper()):
            glyph = _FONT.get(char, _FONT['?'])
            left = x + i * CHAR_W
            for row, bits in enumerate(glyph):
                for col in range(5):
                    if bits & (16 >> col):
                        self.rect(left + col * SCALE, y + row * SCALE,
                                  left + (col + 1) * SCALE,
                                  y + (row + 1) * SCALE, color)

    def png(self):
        raw = b''.join(b'\x00' + bytes(row) for row in self.rows)

        def chunk(kind, data):
            body = kind + data
            return (struct.pack('>I', len(data)) + body
                    + struct.pack('>I', zlib.crc32(body) & 0xffffffff))
        header = struct.pack('>IIBBBBB', self.width, self.height, 8, 2, 0,
                             0, 0)
        return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header)
                + chunk(b'IDAT', zlib.compress(raw, 9))
                + chunk(b'IEND', b''))


def _ticks(maximum):
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000):
        if maximum / step <= 8:
            return [step * i for i in range(int(maximum // step) + 1)]
    return [0, maximum]


def bar_chart(path, title, groups, series, unit='s', notes=()):
    """Write a grouped horizontal bar chart.

    ``groups``: ``[(label, [value or None per series])]``;
    ``series``: ``[label]`` (at most two; the legend).
    """
    colors = (DARK, LIGHT)
    label_chars = max(len(label) for label, _values in groups)
    left = 20 + label_chars * CHAR_W + 16
    bar_w = 560
    width = left + bar_w + 110
    bar_h = 22
    group_h = len(series) * (bar_h + 4) + 18
    top = 20 + 2 * (CHAR_H + 10)
    height = top + len(groups) * group_h + 40 + len(notes) * (CHAR_H + 8)
    canvas = Canvas(width, height)
    canvas.text(20, 16, title)
    x = 20
    for number, name in enumerate(series):
        y = 16 + CHAR_H + 12
        canvas.rect(x, y, x + CHAR_H, y + CHAR_H, colors[number])
        canvas.text(x + CHAR_H + 8, y, name)
        x += CHAR_H + 8 + (len(name) + 3) * CHAR_W

    maximum = max(v for _label, values in groups for v in values
                  if v is not None) * 1.05
    ticks = _ticks(maximum)
    maximum = max(maximum, ticks[-1])
    scale = bar_w / maximum
    bottom = top + len(groups) * group_h
    for tick in ticks:
        tx = left + tick * scale
        canvas.rect(tx, top - 4, tx + 1, bottom, GREY)
        text = '%g' % tick
        canvas.text(tx - len(text) * CHAR_W / 2, bottom + 6, text)
    canvas.rect(left, top - 4, left + 1, bottom, BLACK)

    for number, (label, values) in enumerate(groups):
        y = top + number * group_h + 8
        canvas.text(20, y + (len(series) * (bar_h + 4) - CHAR_H) // 2,
                    label)
        for index, value in enumerate(values):
            by = y + index * (bar_h + 4)
            if value is None:
                canvas.text(left + 6, by + 4, 'n/a')
                continue
            end = left + value * scale
            canvas.rect(left + 1, by, end, by + bar_h, colors[index])
            canvas.text(end + 6, by + (bar_h - CHAR_H) // 2,
                        '%.1f %s' % (value, unit))
    y = bottom + 20 + CHAR_H
    for note in notes:
        canvas.text(20, y, note)
        y += CHAR_H + 8
    with open(path, 'wb') as f:
        f.write(canvas.png())
    return path
