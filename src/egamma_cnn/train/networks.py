"""PyTorch networks of the electron and photon identification (the ``train`` extra).

* :class:`ElectronCNN` — ATL-PHYS-PUB-2023-001 §5.3, Fig. 4 and Table 6: three sub-CNNs (coarse
  images 18 × 7 × 11 with every calorimeter layer as a channel, the fine strip image
  1 × 56 × 11, the 5 × 13 matched tracks with 1 × 1 kernels), flattened and concatenated
  with the quantile-transformed high-level variables into two dense hidden layers, then
  a softmax over the six truth classes. The widths are a :class:`ElectronNetConfig`:
  :data:`TABLE6` is the published size, :data:`CPU_DEFAULT` the narrower shipped one.
  Switching the images and tracks off gives the HLV-only fully-connected network (FCN)
  of ATL-PHYS-PUB-2023-001 §6.1 from the same code.
* :class:`FeatureNet` — a fully-connected network on any list of high-level features
  (the seven standard features of Collado et al., PRD 103, 116028 Table I, with or without its
  EFPs).
* :class:`PhotonCNN` — Franco's photon-ID talk: prompt vs non-prompt from the strip (56 × 3), middle
  (7 × 11) and back (4 × 11) EM-layer images at native granularity, one small CNN per
  layer, concatenated into dense layers, two-class softmax.

Input scaling is part of each network, so the exported ONNX graph takes the raw inputs
the plugin builds: calorimeter images are divided by the candidate's total image
energy (the sum of its coarse, or photon, pixels plus 1 GeV, which keeps empty images
finite), so that the networks see shower *shapes* while E_T enters as an HLV; the
track features are divided by fixed per-feature scales fitted on the training sample
(empty track slots stay exactly zero). HLVs arrive already quantile-transformed
(:class:`egamma_cnn.model.QuantileTable`, applied outside the graph).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = [
    "CPU_DEFAULT",
    "PHOTON_DEFAULT",
    "TABLE6",
    "ElectronCNN",
    "ElectronNetConfig",
    "FeatureNet",
    "PhotonCNN",
    "PhotonNetConfig",
]

#: Energy (GeV) added to the image sum before dividing, so that empty images stay finite.
IMAGE_NORM_OFFSET = 1.0


@dataclass(frozen=True)
class ElectronNetConfig:
    """Widths of the electron network (ATL-PHYS-PUB-2023-001 Table 6 layout).

    Attributes
    ----------
    coarse_maps, fine_maps, track_maps
        Feature maps of the two convolution layers of each sub-CNN.
    fine_pooling
        Max-pooling (η, φ) after each fine convolution (Table 6: (4, 1), (2, 1)).
    kernel
        Kernel (η, φ) of the image convolutions (Table 6: (3, 5)).
    hidden
        Neurons of the two dense hidden layers.
    dropout
        Dropout probability after each dense hidden layer.
    use_images, use_tracks
        Switch the image and track sub-CNNs on or off (off and off = the HLV-only FCN).
    n_hlv, n_classes
        Number of high-level variables and output classes.
    """

    coarse_maps: tuple[int, int] = (32, 32)
    fine_maps: tuple[int, int] = (16, 32)
    track_maps: tuple[int, int] = (64, 64)
    fine_pooling: tuple[tuple[int, int], tuple[int, int]] = ((4, 1), (2, 1))
    kernel: tuple[int, int] = (3, 5)
    hidden: tuple[int, int] = (100, 100)
    dropout: float = 0.1
    use_images: bool = True
    use_tracks: bool = True
    n_hlv: int = 26
    n_classes: int = 6

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ElectronNetConfig:
        def tuples(value):
            return tuple(tuples(v) for v in value) if isinstance(value, list | tuple) else value

        return cls(**{k: tuples(v) for k, v in data.items()})


#: The published hyper-parameters (ATL-PHYS-PUB-2023-001 Table 6): 100/100 maps for the images,
#: 200/200 for the tracks, two hidden layers of 100.
TABLE6 = ElectronNetConfig(
    coarse_maps=(100, 100), fine_maps=(100, 100), track_maps=(200, 200), hidden=(100, 100)
)
#: The shipped default: the Table 6 layout and hidden layers with about a third of its
#: feature maps — 0.58 M instead of 2.0 M parameters and about 9× less training time per
#: candidate, trainable on two CPU cores (benchmarks/RESULTS.md).
CPU_DEFAULT = ElectronNetConfig()


def _image_scale(*images: torch.Tensor) -> torch.Tensor:
    total = sum(image.flatten(1).sum(dim=1) for image in images)
    return (total.clamp(min=0.0) + IMAGE_NORM_OFFSET).reshape(-1, 1, 1, 1)


class ElectronCNN(nn.Module):
    """The electron network of ATL-PHYS-PUB-2023-001 Fig. 4 (see the module docstring).

    ``forward(hlv, coarse, fine, tracks)`` (call it with keywords) returns the class
    probabilities ``(N, 6)`` (softmax included); :meth:`logits` gives the pre-softmax
    values for the loss. With images or tracks switched off, those inputs are not needed
    (:meth:`input_names` lists the ones read).
    """

    def __init__(self, config: ElectronNetConfig = CPU_DEFAULT, track_scale=None) -> None:
        super().__init__()
        self.config = config
        kh, kw = config.kernel
        padding = (kh // 2, kw // 2)
        n_flat = config.n_hlv
        if config.use_images:
            c1, c2 = config.coarse_maps
            self.coarse = nn.Sequential(
                nn.Conv2d(18, c1, config.kernel, padding=padding),
                nn.ReLU(),
                nn.Conv2d(c1, c2, config.kernel, padding=padding),
                nn.ReLU(),
                nn.Flatten(),
            )
            f1, f2 = config.fine_maps
            (p1, p2) = config.fine_pooling
            self.fine = nn.Sequential(
                nn.Conv2d(1, f1, config.kernel, padding=padding),
                nn.ReLU(),
                nn.MaxPool2d(p1),
                nn.Conv2d(f1, f2, config.kernel, padding=padding),
                nn.ReLU(),
                nn.MaxPool2d(p2),
                nn.Flatten(),
            )
            fine_eta = 56 // p1[0] // p2[0]
            fine_phi = 11 // p1[1] // p2[1]
            n_flat += c2 * 7 * 11 + f2 * fine_eta * fine_phi
        if config.use_tracks:
            t1, t2 = config.track_maps
            self.tracks = nn.Sequential(
                nn.Conv1d(13, t1, 1), nn.ReLU(), nn.Conv1d(t1, t2, 1), nn.ReLU(), nn.Flatten()
            )
            n_flat += t2 * 5
        h1, h2 = config.hidden
        self.head = nn.Sequential(
            nn.Linear(n_flat, h1),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(h1, h2),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(h2, config.n_classes),
        )
        scale = torch.ones(13) if track_scale is None else torch.as_tensor(track_scale)
        self.register_buffer("track_scale", scale.to(torch.float32).reshape(1, 1, 13))

    def logits(
        self,
        hlv: torch.Tensor,
        coarse: torch.Tensor | None = None,
        fine: torch.Tensor | None = None,
        tracks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        parts = [hlv]
        if self.config.use_images:
            scale = _image_scale(coarse)
            parts += [self.coarse(coarse / scale), self.fine(fine / scale)]
        if self.config.use_tracks:
            # (N, 5 slots, 13 features) -> 13 channels over 5 positions, 1x1 kernels
            parts.append(self.tracks((tracks / self.track_scale).transpose(1, 2)))
        return self.head(torch.cat(parts, dim=1))

    def forward(
        self,
        hlv: torch.Tensor,
        coarse: torch.Tensor | None = None,
        fine: torch.Tensor | None = None,
        tracks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return torch.softmax(self.logits(hlv, coarse, fine, tracks), dim=1)

    def input_names(self) -> tuple[str, ...]:
        """The inputs this variant reads, in the order of its exported graph."""
        names = ("coarse", "fine") if self.config.use_images else ()
        names += ("tracks",) if self.config.use_tracks else ()
        return (*names, "hlv")


class FeatureNet(nn.Module):
    """Fully-connected network on ``n_inputs`` (quantile-transformed) features.

    ``forward(features)`` returns class probabilities (softmax included).
    """

    def __init__(
        self, n_inputs: int, n_classes: int = 2, hidden=(64, 64), dropout: float = 0.1
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)
        self.n_inputs, self.n_classes, self.hidden = n_inputs, n_classes, tuple(hidden)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def input_names(self) -> tuple[str, ...]:
        return ("features",)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(features), dim=1)


@dataclass(frozen=True)
class PhotonNetConfig:
    """Widths of the photon CNN (Franco's photon-ID talk): two convolutions per EM layer, dense
    head."""

    maps: tuple[int, int] = (16, 32)
    hidden: tuple[int, ...] = (64,)
    dropout: float = 0.1
    n_classes: int = 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PhotonNetConfig:
        return cls(
            maps=tuple(data["maps"]),
            hidden=tuple(data["hidden"]),
            dropout=data["dropout"],
            n_classes=data["n_classes"],
        )


#: The shipped photon network.
PHOTON_DEFAULT = PhotonNetConfig()


#: Per photon layer: (η, φ) pixels, convolution kernel and max-pooling after the first
#: convolution (the strips are pooled 8 × 1 to the middle-layer η pitch).
_PHOTON_LAYERS: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    "strips": ((56, 3), (5, 3), (8, 1)),
    "middle": ((7, 11), (3, 3), (1, 1)),
    "back": ((4, 11), (3, 3), (1, 1)),
}


def _layer_cnn(maps: tuple[int, int], kernel: tuple[int, int], pool: tuple[int, int]):
    padding = (kernel[0] // 2, kernel[1] // 2)
    return nn.Sequential(
        nn.Conv2d(1, maps[0], kernel, padding=padding),
        nn.ReLU(),
        nn.MaxPool2d(pool),
        nn.Conv2d(maps[0], maps[1], kernel, padding=padding),
        nn.ReLU(),
        nn.Flatten(),
    )


class PhotonCNN(nn.Module):
    """Prompt vs non-prompt photon CNN on the three EM layers (Franco's photon-ID talk).

    ``forward(strips, middle, back)`` with ``(N, 56, 3)``, ``(N, 7, 11)`` and
    ``(N, 4, 11)`` images returns ``(N, 2)`` probabilities (non-prompt, prompt). The
    strip branch uses (5, 3) kernels along the fine η pitch and pools 8 × 1 after its
    first convolution, the others use (3, 3) kernels at full resolution.
    """

    def __init__(self, config: PhotonNetConfig = PHOTON_DEFAULT) -> None:
        super().__init__()
        self.config = config
        width = 0
        for name, ((n_eta, n_phi), kernel, pool) in _PHOTON_LAYERS.items():
            setattr(self, name, _layer_cnn(config.maps, kernel, pool))
            width += config.maps[1] * (n_eta // pool[0]) * (n_phi // pool[1])
        layers: list[nn.Module] = []
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(config.dropout)]
            width = h
        layers.append(nn.Linear(width, config.n_classes))
        self.head = nn.Sequential(*layers)

    def logits(
        self, strips: torch.Tensor, middle: torch.Tensor, back: torch.Tensor
    ) -> torch.Tensor:
        scale = _image_scale(strips, middle, back)
        parts = [
            branch(image.unsqueeze(1) / scale)
            for branch, image in ((self.strips, strips), (self.middle, middle), (self.back, back))
        ]
        return self.head(torch.cat(parts, dim=1))

    def forward(self, strips: torch.Tensor, middle: torch.Tensor, back: torch.Tensor):
        return torch.softmax(self.logits(strips, middle, back), dim=1)

    def input_names(self) -> tuple[str, ...]:
        return tuple(_PHOTON_LAYERS)
