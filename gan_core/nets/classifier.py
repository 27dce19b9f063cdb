"""A small CNN digit classifier: the offline stand-in for Inception in the image metrics.

x (C x 28 x 28) -> [conv3-conv3-maxpool] x 2 -> 128-d features -> class logits.
Fréchet distance, KID and precision/recall are computed on the 128-d features.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class DigitClassifier(nn.Module):
    def __init__(self, channels: int = 1, n_classes: int = 10, width: int = 32, feature_dim: int = 128,
                 img_size: int = 28):
        super().__init__()
        self.img_size, self.channels, self.n_classes = img_size, channels, n_classes
        self.num_features = feature_dim  # read by torchmetrics' FID when given a custom extractor

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True),
                    nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True),
                    nn.MaxPool2d(2)]
        self.conv = nn.Sequential(*block(channels, width), *block(width, 2 * width))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * (img_size // 4) ** 2, feature_dim), nn.ReLU(True))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, n_classes))

    def prepare(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] of any size and 1 or 3 channels -> this net's input."""
        if x.shape[1] != self.channels:
            x = x.mean(1, keepdim=True) if self.channels == 1 else x.expand(-1, self.channels, -1, -1)
        if x.shape[-1] != self.img_size or x.shape[-2] != self.img_size:
            x = F.interpolate(x, size=(self.img_size, self.img_size), mode="bilinear", antialias=True,
                              align_corners=False)
        return x

    def features(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(self.prepare(x)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
