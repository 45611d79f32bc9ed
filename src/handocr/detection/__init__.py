"""Line detectors: the interface and the YOLOv8 ONNX backend."""

from handocr.detection.base import Detection, LineDetector

__all__ = ["Detection", "LineDetector"]
