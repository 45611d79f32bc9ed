"""The compact CTC line recognizers: a small CNN, a 2-layer BiLSTM and a linear classifier.

Input ``(N, 1, 32, W)`` float in [0, 1] (ink high); output ``(N, W/4, C)`` logits, one frame per
4 input columns. ``crnn-v1`` is the smallest (``CRNN_V1_SHAPE``); ``crnn-wide`` has twice its
channels and a wider LSTM (``CRNN_WIDE_SHAPE``, both in
:mod:`handocr.training.architectures`), and can start as an exact copy of a trained
``crnn-v1`` (see :mod:`handocr.training.grow`).
"""

from __future__ import annotations

import torch
from torch import nn

from handocr.training.architectures import CRNN_V1_SHAPE, CrnnShape


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CRNN(nn.Module):
    """CNN + BiLSTM + CTC head. ``num_classes`` includes the blank (class 0)."""

    def __init__(self, num_classes: int, height: int = 32, shape: CrnnShape = CRNN_V1_SHAPE) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = shape.channels
        self.features = nn.Sequential(
            _conv(1, c1),
            nn.MaxPool2d(2),  # 16 x W/2
            _conv(c1, c2),
            nn.MaxPool2d(2),  # 8 x W/4
            _conv(c2, c3),
            _conv(c3, c4),
            nn.MaxPool2d((2, 1)),  # 4 x W/4
            _conv(c4, c5),
            nn.MaxPool2d((2, 1)),  # 2 x W/4
        )
        self.feat_height = height // 16  # rows left after the four halvings; features flatten channel-major
        self.project = nn.Linear(c5 * self.feat_height, shape.project)
        self.dropout = nn.Dropout(0.2)
        self.rnn = nn.LSTM(shape.project, shape.hidden, num_layers=2, bidirectional=True, batch_first=True, dropout=0.2)
        self.classifier = nn.Linear(2 * shape.hidden, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, T, C)`` for images ``(N, 1, H, W)``; ``T = W // 4``."""
        x = self.features(images)  # N, C, h, T
        n, c, h, t = x.shape
        x = x.permute(0, 3, 1, 2).reshape(n, t, c * h)
        x = self.dropout(torch.relu(self.project(x)))
        x, _ = self.rnn(x)
        return self.classifier(self.dropout(x))
