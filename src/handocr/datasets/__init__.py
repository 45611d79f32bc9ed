"""Dataset readers (ALTO, PAGE-XML, METS, IAM, line folders, YOLO) and the conventions of the shipped real sets."""

from handocr.datasets.collection import DatasetFolder, load_pages, read_page_file, recognition_target
from handocr.datasets.detect import detect_format, open_dataset
from handocr.datasets.records import LineRecord, PageRecord

__all__ = [
    "DatasetFolder",
    "LineRecord",
    "PageRecord",
    "detect_format",
    "load_pages",
    "open_dataset",
    "read_page_file",
    "recognition_target",
]
