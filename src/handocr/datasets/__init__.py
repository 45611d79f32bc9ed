"""Dataset readers (ALTO, PAGE-XML) and the conventions of the shipped real sets."""

from handocr.datasets.collection import DatasetFolder, load_pages, read_page_file, recognition_target
from handocr.datasets.records import LineRecord, PageRecord

__all__ = ["DatasetFolder", "LineRecord", "PageRecord", "load_pages", "read_page_file", "recognition_target"]
