"""Training tools (optional extra ``handocr[train]``: torch, ultralytics). Never imported by serving code."""
