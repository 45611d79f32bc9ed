"""handocr: find and read handwriting on a page, offline, on an ordinary CPU."""

__version__ = "0.1.0"
