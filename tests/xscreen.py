"""A private virtual X display (Xvfb) for desktop browsers, and what tests read off its screen.

``XDisplay`` starts Xvfb on a display number the server picks itself (``-displayfd``), accepts
only clients holding a fresh MIT-MAGIC-COOKIE (``-auth``), and listens on no TCP port.
``Screenshot`` is the whole screen as RGB bytes, captured with ImageMagick's ``import``; a test
finds an element by the exact colour a test-only stylesheet gave it (``region``) and can save
the screen as a PNG without any imaging library.
"""

from __future__ import annotations

import os
import secrets
import select
import struct
import subprocess
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

#: The screen every test sees; a browser window is given the same size.
SCREEN_WIDTH = 1024
SCREEN_HEIGHT = 768
#: No TCP listener; one screen of 24-bit colour.
XVFB_OPTIONS = ("-nolisten", "tcp", "-screen", "0", f"{SCREEN_WIDTH}x{SCREEN_HEIGHT}x24")
#: Xvfb prints its display number when it is ready to take clients.
XVFB_START_SECONDS = 10.0
#: The longest a capture or an ``xauth`` call may take.
TOOL_SECONDS = 10.0
#: A screen showing a rendered page has more colours than this in a sparse sample of its
#: pixels; an unmapped root (black) or a window not yet painted (one colour) has one or two.
BLANK_MAX_COLOURS = 4
#: Every this-many-th pixel is sampled for the blank check.
BLANK_SAMPLE_STEP = 101

Colour = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle of screen pixels; ``right`` and ``bottom`` are exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def area(self) -> int:
        return (self.right - self.left) * (self.bottom - self.top)

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def intersects(self, other: Box) -> bool:
        return (
            self.left < other.right
            and other.left < self.right
            and self.top < other.bottom
            and other.top < self.bottom
        )


@dataclass(frozen=True, slots=True)
class Region:
    """Where one exact colour shows on the screen: its bounding box and how many pixels."""

    box: Box
    pixels: int

    @property
    def fill(self) -> float:
        """The share of the box the colour covers (text drawn on it and overlaps lower it)."""
        return self.pixels / self.box.area


class Screenshot:
    """The screen's pixels, row after row, three bytes (R, G, B) each."""

    def __init__(self, width: int, height: int, rgb: bytes) -> None:
        if len(rgb) != width * height * 3:
            raise ValueError(f"{len(rgb)} bytes are not a {width}x{height} RGB image")
        self.width = width
        self.height = height
        self.rgb = rgb

    @classmethod
    def from_ppm(cls, data: bytes) -> Screenshot:
        """A binary PPM (P6, 8 bits a sample), as ``import … -depth 8 ppm:-`` writes it."""
        fields: list[bytes] = []
        position = 0
        while len(fields) < 4:
            while data[position : position + 1].isspace():
                position += 1
            if data[position : position + 1] == b"#":
                position = data.index(b"\n", position) + 1
                continue
            end = position
            while not data[end : end + 1].isspace():
                end += 1
            fields.append(data[position:end])
            position = end
        magic, width, height, maxval = fields
        if magic != b"P6" or maxval != b"255":
            raise ValueError(f"not an 8-bit binary PPM: {magic!r}, maxval {maxval!r}")
        return cls(int(width), int(height), data[position + 1 :])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Screenshot) and self.rgb == other.rgb

    __hash__ = None  # type: ignore[assignment]

    def is_blank(self) -> bool:
        step = BLANK_SAMPLE_STEP * 3
        sample = {self.rgb[index : index + 3] for index in range(0, len(self.rgb), step)}
        return len(sample) <= BLANK_MAX_COLOURS

    def region(self, colour: Colour) -> Region | None:
        """Where exactly ``colour`` shows, or None when no pixel has it.

        Each row is searched with ``bytes.find`` and only hits on a pixel boundary count;
        ``region_by_pixel`` is the plain per-pixel scan this must always agree with.
        """
        needle = bytes(colour)
        stride = self.width * 3
        left, top, right, bottom, pixels = self.width, self.height, -1, -1, 0
        for y in range(self.height):
            row = self.rgb[y * stride : (y + 1) * stride]
            index = row.find(needle)
            while index >= 0:
                if index % 3 == 0:
                    x = index // 3
                    pixels += 1
                    left, right = min(left, x), max(right, x)
                    top, bottom = min(top, y), max(bottom, y)
                index = row.find(needle, index + 1)
        if pixels == 0:
            return None
        return Region(Box(left, top, right + 1, bottom + 1), pixels)

    def region_by_pixel(self, colour: Colour) -> Region | None:
        """``region``, one pixel at a time: slow and obviously right."""
        needle = bytes(colour)
        hits = [
            (index // 3 % self.width, index // 3 // self.width)
            for index in range(0, len(self.rgb), 3)
            if self.rgb[index : index + 3] == needle
        ]
        if not hits:
            return None
        xs = [x for x, _ in hits]
        ys = [y for _, y in hits]
        return Region(Box(min(xs), min(ys), max(xs) + 1, max(ys) + 1), len(hits))

    def png(self) -> bytes:
        """The screenshot as a PNG (8-bit RGB, no filtering)."""
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + self.rgb[y * stride : (y + 1) * stride] for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(raw, 6))
            + _png_chunk(b"IEND", b"")
        )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


class XDisplay:
    """Xvfb on a free display number, reachable only with the cookie in ``env``'s XAUTHORITY.

    Use it as a context manager; ``env`` is the environment a client needs.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> XDisplay:
        cookie = secrets.token_hex(16)
        server_auth = self.folder / "server.xauth"
        client_auth = self.folder / "client.xauth"
        # The server trusts every cookie in its file, whatever display the entry names.
        _xauth(server_auth, ":0", cookie)
        read_end, write_end = os.pipe()
        try:
            with (self.folder / "xvfb.log").open("wb") as log:
                self.process = subprocess.Popen(
                    [
                        "Xvfb",
                        "-displayfd",
                        str(write_end),
                        "-auth",
                        str(server_auth),
                        *XVFB_OPTIONS,
                    ],
                    pass_fds=(write_end,),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            os.close(write_end)
            number = _read_line(read_end, XVFB_START_SECONDS)
        finally:
            os.close(read_end)
        if not number.isdigit():
            self.__exit__()
            log_text = (self.folder / "xvfb.log").read_text(errors="replace")
            raise RuntimeError(f"Xvfb did not report a display number: {log_text[-2000:]}")
        _xauth(client_auth, f":{number}", cookie)
        self.env = {**os.environ, "DISPLAY": f":{number}", "XAUTHORITY": str(client_auth)}
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=TOOL_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def screenshot(self) -> Screenshot:
        """The whole screen (the root window and every window on it)."""
        captured = subprocess.run(
            ["import", "-window", "root", "-depth", "8", "ppm:-"],
            env=self.env,
            capture_output=True,
            timeout=TOOL_SECONDS,
            check=True,
        )
        return Screenshot.from_ppm(captured.stdout)

    def settled_screenshot(
        self, process: subprocess.Popen[bytes], timeout: float, interval: float, frames: int
    ) -> Screenshot:
        """The screen once ``frames`` captures in a row, ``interval`` apart, are the same and
        not blank: the page has been laid out and painted and nothing is still loading.

        Fails when ``process`` exits first or nothing settles within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        same: list[Screenshot] = []
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
            shot = self.screenshot()
            same = [*same, shot] if same and same[-1] == shot else [shot]
            if len(same) >= frames and not shot.is_blank():
                return shot
            if time.monotonic() > deadline:
                state = "blank" if shot.is_blank() else "still changing"
                raise TimeoutError(f"the screen was {state} after {timeout:.0f} s")
            time.sleep(interval)


def _xauth(path: Path, display: str, cookie: str) -> None:
    subprocess.run(
        ["xauth", "-q", "-f", str(path), "add", display, ".", cookie],
        capture_output=True,
        timeout=TOOL_SECONDS,
        check=True,
    )


def _read_line(fd: int, timeout: float) -> str:
    """What a process writes to the pipe ``fd`` up to its first newline (or EOF, or timeout)."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode("ascii", "replace").strip()
