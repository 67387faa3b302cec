"""The track's models, from LeNet-5 to ResNet, and the initialisation switch (lecture slide 50).

Every model maps images x (N, C, H, W) to class scores (N, num_classes) and has two parts: ``body`` (all
layers up to the last hidden features) and ``head`` (the final ``nn.Linear``), so fine-tuning can swap the head.

- ``lenet``:    LeNet-5 (LeCun et al. 1998) with ReLU and max-pooling; made for 28x28 or 32x32 digits.
- ``vgg``:      a small VGG-style net: three stages of two 3x3 convs (32, 64, 128 channels) with batch norm,
                each followed by 2x2 max-pooling, then global average pooling.
- ``resnet20``: the CIFAR ResNet-20 of He et al. 2016 (3 stages x 3 basic blocks, 16/32/64 channels,
                parameter-free "option A" shortcuts): 269,722 parameters for 10 classes.
- ``resnet18``: ResNet-18 (4 stages x 2 basic blocks, 64..512 channels, 1x1 projection shortcuts);
                ``small_input=True`` (default) uses a 3x3 stride-1 stem for 32x32 images, ``False`` the
                ImageNet stem (7x7 stride 2 + max-pool): then 11,689,512 parameters for 1000 classes.

``init_weights(model, scheme)``: "kaiming" (variance 2 / fan_in, keeps ReLU activations at a steady scale),
"small" (std 0.01: signals shrink layer after layer), "large" (std 1: they explode), "default" (torch's own).
``build_model(name, num_classes, in_channels, init="kaiming")`` builds any of them by name.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils._validate import int_param, one_of

MODELS = ("lenet", "vgg", "resnet20", "resnet18")
#: Smallest image side each model accepts (each 2x2 pooling or stride-2 stage halves it).
MIN_INPUT_SIZE = {"lenet": 16, "vgg": 8, "resnet20": 8, "resnet18": 8}
#: The image side each model was designed for (LeNet: MNIST's 28x28; the others: CIFAR's 32x32).
INPUT_SIZE = {"lenet": 28, "vgg": 32, "resnet20": 32, "resnet18": 32}
INIT_SCHEMES = ("kaiming", "small", "large", "default")


class Classifier(nn.Module):
    """``head(body(x))``: body maps (N, C, H, W) -> (N, D) features, head is an ``nn.Linear(D, classes)``."""

    def __init__(self, body: nn.Module, head: nn.Linear):
        super().__init__()
        self.body, self.head = body, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def lenet(num_classes: int = 10, in_channels: int = 1) -> Classifier:
    """LeNet-5: conv 5x5 (6) -> pool -> conv 5x5 (16) -> pool -> FC 120 -> FC 84 -> head.

    x (N, C, 28, 28) -> 6x28x28 -> 6x14x14 -> 16x10x10 -> 16x5x5 -> 120 -> 84 -> (N, num_classes).
    Other sizes >= 16 work: an adaptive average pooling brings the last maps to 5x5.
    """
    body = nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(5), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
    )
    return Classifier(body, nn.Linear(84, num_classes))


def vgg(num_classes: int = 10, in_channels: int = 3, widths=(32, 64, 128), batch_norm: bool = True,
        dropout: float = 0.0) -> Classifier:
    """A small VGG-style net: per width w, [conv 3x3 (w) -> (BN) -> ReLU] x 2 -> max-pool 2x2.

    x (N, C, H, W) -> (N, widths[-1], H/8, W/8) -> global average pool -> (dropout) -> head (N, num_classes).
    """
    layers, c = [], in_channels
    for w in widths:
        for _ in range(2):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(w)] if batch_norm else []
            layers += [nn.ReLU()]
            c = w
        layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout)]
    return Classifier(nn.Sequential(*layers), nn.Linear(c, num_classes))


class BasicBlock(nn.Module):
    """Residual block: out = ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))) + shortcut(x)).

    x (N, c_in, H, W) -> (N, c_out, H/stride, W/stride). When the shape changes, the shortcut is
    "A": subsample by ``stride`` and pad the new channels with zeros (no parameters, ResNet-20), or
    "B": a 1x1 conv with stride + BN (ResNet-18). Otherwise it is the identity: the block learns a residual.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, shortcut: str = "B"):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.stride, self.pad = stride, c_out - c_in
        self.project = None
        if (stride != 1 or c_in != c_out) and shortcut == "B":
            self.project = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                         nn.BatchNorm2d(c_out))

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.project is not None:
            return self.project(x)
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.pad)) if self.pad else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def _stage(c_in: int, c_out: int, blocks: int, stride: int, shortcut: str) -> nn.Sequential:
    return nn.Sequential(*[BasicBlock(c_in if i == 0 else c_out, c_out, stride if i == 0 else 1, shortcut)
                           for i in range(blocks)])


def resnet20(num_classes: int = 10, in_channels: int = 3) -> Classifier:
    """ResNet-20 for 32x32 images: conv 3x3 (16) -> 3 stages of 3 blocks (16, 32, 64 ch.) -> avg pool -> head.

    x (N, C, 32, 32) -> 16x32x32 -> 32x16x16 -> 64x8x8 -> (N, 64) -> (N, num_classes).
    """
    body = nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        _stage(16, 16, 3, 1, "A"), _stage(16, 32, 3, 2, "A"), _stage(32, 64, 3, 2, "A"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )
    return Classifier(body, nn.Linear(64, num_classes))


def resnet18(num_classes: int = 10, in_channels: int = 3, small_input: bool = True) -> Classifier:
    """ResNet-18: stem -> 4 stages of 2 blocks (64, 128, 256, 512 ch.; stride 2 from the second) -> avg pool.

    small_input=True: stem conv 3x3 stride 1, x (N, C, 32, 32) -> 512x4x4 -> (N, 512) -> (N, num_classes).
    small_input=False: the ImageNet stem conv 7x7 stride 2 + max-pool, x (N, C, 224, 224) -> 512x7x7.
    """
    if small_input:
        stem = [nn.Conv2d(in_channels, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    else:
        stem = [nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                nn.MaxPool2d(3, stride=2, padding=1)]
    body = nn.Sequential(
        *stem,
        _stage(64, 64, 2, 1, "B"), _stage(64, 128, 2, 2, "B"), _stage(128, 256, 2, 2, "B"),
        _stage(256, 512, 2, 2, "B"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )
    return Classifier(body, nn.Linear(512, num_classes))


def init_weights(model: nn.Module, scheme: str = "kaiming") -> nn.Module:
    """Re-initialise every conv and linear layer of ``model`` in place; returns the model.

    "kaiming": weights ~ N(0, 2 / fan_in) (He et al. 2015), biases 0: the variance of ReLU activations stays
    about the same from layer to layer. "small": N(0, 0.01^2): activations (and gradients) shrink at every
    layer. "large": N(0, 1): they blow up. "default": torch's own initialisation (``reset_parameters``).
    Batch-norm layers get weight 1, bias 0.
    """
    one_of("init_weights", "scheme", scheme, INIT_SCHEMES)
    for m in model.modules():
        if scheme == "default":
            if hasattr(m, "reset_parameters") and m is not model:
                m.reset_parameters()
            continue
        if isinstance(m, nn.Conv2d | nn.Linear):
            if scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, std=0.01 if scheme == "small" else 1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


_BUILDERS = {"lenet": lenet, "vgg": vgg, "resnet20": resnet20, "resnet18": resnet18}


def build_model(name: str, num_classes: int = 10, in_channels: int = 3, init: str = "kaiming",
                **kwargs) -> Classifier:
    """Build a model of ``MODELS`` by name and initialise it with ``init`` (see ``init_weights``).

    Extra keyword arguments go to the builder (e.g. ``batch_norm=False`` for vgg, ``small_input`` for resnet18).
    """
    one_of("build_model", "name", name, MODELS)
    int_param("build_model", "num_classes", num_classes, 1)
    return init_weights(_BUILDERS[name](num_classes=num_classes, in_channels=in_channels, **kwargs), init)


def replace_head(model: Classifier, num_classes: int, freeze_body: bool = False) -> Classifier:
    """Fine-tuning: give ``model`` a fresh, Kaiming-initialised ``head`` with ``num_classes`` outputs.

    freeze_body=True stops gradients for every body parameter, so training only changes the head.
    Works on the model in place and returns it.
    """
    if not isinstance(getattr(model, "head", None), nn.Linear):
        raise TypeError(f"replace_head: model must have a `head` nn.Linear (a Classifier), "
                        f"got {type(model).__name__} with head {type(getattr(model, 'head', None)).__name__}")
    old = model.head
    model.head = init_weights(nn.Linear(old.in_features, num_classes), "kaiming").to(old.weight.device)
    for p in model.body.parameters():
        p.requires_grad_(not freeze_body)
    return model


@torch.no_grad()
def activation_stds(model: nn.Module, x: torch.Tensor) -> list[float]:
    """Standard deviation of the output of every ReLU of ``model`` for the batch x, in forward order.

    The lecture's "initialise with the proper variance" made visible: with "kaiming" the values stay of the
    same order, with "small" they shrink towards 0 and with "large" they grow, layer after layer.
    """
    stds, hooks = [], []
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    for m in relus:
        hooks.append(m.register_forward_hook(lambda _m, _i, out: stds.append(out.float().std().item())))
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return stds
