"""Device selection (CUDA -> MPS -> CPU, mocked), seeding, autocast and channels_last switches."""

import random

import numpy as np
import pytest
import torch

from course_utils.torch_track import device as D


@pytest.fixture
def fake(monkeypatch):
    def set_available(cuda: bool, mps: bool):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(D, "_mps_available", lambda: mps)
        monkeypatch.delenv("LOCAL_RANK", raising=False)

    return set_available


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda:0"), (True, False, "cuda:0"),
                                                  (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(fake, cuda, mps, expected):
    fake(cuda, mps)
    assert str(D.get_device()) == expected


def test_each_torchrun_process_gets_its_own_gpu(fake, monkeypatch):
    fake(True, False)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert D.get_device() == torch.device("cuda", 3)


def test_explicit_choice_and_clear_errors(fake):
    fake(False, True)
    assert D.get_device("cpu") == torch.device("cpu")
    assert D.get_device("mps") == torch.device("mps")
    with pytest.raises(ValueError, match=r"get_device: prefer must be a device available on this machine, "
                                         r"one of \['mps', 'cpu'\], got 'cuda'"):
        D.get_device("cuda")
    with pytest.raises(ValueError, match=r"get_device: prefer must be one of \('auto', .*\), got 'gpu'"):
        D.get_device("gpu")


def test_seed_everything_repeats_python_numpy_and_torch():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3).tolist()

    D.seed_everything(123)
    a = draw()
    D.seed_everything(123)
    assert draw() == a
    D.seed_everything(124)
    assert draw() != a
    with pytest.raises(TypeError, match="seed_everything: seed must be an int, got float 1.5"):
        D.seed_everything(1.5)


def test_autocast_is_bf16_only_where_asked():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with D.autocast("cpu"):  # default: off on CPU
        assert (a @ b).dtype == torch.float32
    with D.autocast("cpu", enabled=True):
        assert (a @ b).dtype == torch.bfloat16


def test_prepare_model_channels_last_and_to_device():
    model = D.prepare_model(torch.nn.Conv2d(3, 8, 3), "cpu", channels_last=True)
    assert model.weight.is_contiguous(memory_format=torch.channels_last) and not model.weight.is_contiguous()
    x = D.to_device(torch.randn(2, 3, 5, 5), "cpu", channels_last=True)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert "cpu" in D.describe_device("cpu")
