"""Line recognizers: the CTC ONNX backend (default) and the TrOCR backend."""
