"""course_utils.registration: the locally connected layer against independent references; training learns."""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.counting import conv_params, locally_connected_params
from course_utils.reference import locally_connected_backward, locally_connected_forward
from course_utils.registration import (
    CONDITIONS,
    LocallyConnected2d,
    accuracy,
    count_params,
    make_net,
    registration_experiment,
    train,
)


def _loop_reference(x, w, b, stride, padding):
    """out[n, f, i, j] = b[f, i, j] + sum_{c,p,q} w[i, j, f, c, p, q] * x_pad[n, c, i*s + p, j*s + q], by loops."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo, Fo, C, KH, KW = w.shape
    out = np.zeros((x.shape[0], Fo, Ho, Wo))
    for n, f, i, j in itertools.product(range(x.shape[0]), range(Fo), range(Ho), range(Wo)):
        patch = x[n, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
        out[n, f, i, j] = (patch * w[i, j, f]).sum() + b[f, i, j]
    return out


CASES = [  # (C, F, (H, W), K, stride, padding)
    (1, 2, (6, 6), 3, 1, 0),
    (3, 4, (7, 9), 3, 2, 1),
    (2, 3, (8, 5), (3, 2), 1, 2),
]


@pytest.mark.parametrize("C, Fo, size, k, stride, padding", CASES)
def test_forward_matches_loop_and_numpy_reference(C, Fo, size, k, stride, padding):
    torch.manual_seed(0)
    layer = LocallyConnected2d(C, Fo, size, k, stride=stride, padding=padding).double()
    x = torch.randn(2, C, *size, dtype=torch.float64)
    out = layer(x).detach().numpy()
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert out.shape == (2, Fo, *layer.output_size)
    np.testing.assert_allclose(out, _loop_reference(x.numpy(), w, b, stride, padding), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        out, locally_connected_forward(x.numpy(), w, b, stride=stride, padding=padding), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("C, Fo, size, k, stride, padding", CASES)
def test_gradients_match_numpy_reference(C, Fo, size, k, stride, padding):
    torch.manual_seed(1)
    layer = LocallyConnected2d(C, Fo, size, k, stride=stride, padding=padding).double()
    x = torch.randn(2, C, *size, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    dout = torch.randn_like(out)
    out.backward(dout)
    dx, dw, db = locally_connected_backward(
        dout.numpy(), x.detach().numpy(), layer.weight.detach().numpy(), stride=stride, padding=padding
    )
    np.testing.assert_allclose(x.grad.numpy(), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad.numpy(), dw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), db, rtol=1e-10, atol=1e-12)


def test_tied_weights_give_a_convolution():
    """Copy one filter bank to every position: the locally connected layer becomes F.conv2d (slide 15)."""
    torch.manual_seed(2)
    layer = LocallyConnected2d(3, 5, (10, 9), 3, stride=2, padding=1, bias=False).double()
    filters = torch.randn(5, 3, 3, 3, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(filters.expand_as(layer.weight))
    x = torch.randn(4, 3, 10, 9, dtype=torch.float64)
    expected = F.conv2d(x, filters, stride=2, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=1e-12, atol=1e-12)


def test_parameter_count_matches_the_counting_module():
    layer = LocallyConnected2d(3, 8, 32, 5)  # 28 x 28 positions
    hidden_units = 8 * 28 * 28
    assert count_params(layer) == locally_connected_params(hidden_units, 5, channels=3) + hidden_units
    assert count_params(LocallyConnected2d(3, 8, 32, 5, bias=False)) == locally_connected_params(
        hidden_units, 5, channels=3
    )


def test_bad_inputs_are_named():
    layer = LocallyConnected2d(1, 2, 8, 3)
    with pytest.raises(ValueError, match=r"^LocallyConnected2d: x must be \(N, 1, 8, 8\), got \(2, 1, 9, 9\)$"):
        layer(torch.zeros(2, 1, 9, 9))
    with pytest.raises(ValueError, match=r"^LocallyConnected2d: kernel_size must fit the padded input \(input_size "
                                         r"\(4, 4\) with padding \(0, 0\)\), got \(5, 5\)$"):
        LocallyConnected2d(1, 2, 4, 5)
    with pytest.raises(ValueError, match=r"^make_net: kind must be one of \('conv', 'local'\), got 'dense'$"):
        make_net("dense")
    with pytest.raises(ValueError, match=r"^make_net: size must be >= 9, got 8$"):
        make_net("conv", size=8)
    with pytest.raises(ValueError, match=r"^LocallyConnected2d: stride must be >= 1, got 0$"):
        LocallyConnected2d(1, 2, 8, 3, stride=0)
    with pytest.raises(ValueError, match=r"^LocallyConnected2d: kernel_size must be an int or a pair \(h, w\), "
                                         r"got \(3, 3, 3\)$"):
        LocallyConnected2d(1, 2, 8, (3, 3, 3))
    with pytest.raises(TypeError, match=r"^LocallyConnected2d: padding must be an integer, got float 1.5$"):
        LocallyConnected2d(1, 2, 8, 3, padding=1.5)
    with pytest.raises(ValueError, match=r"^train: epochs must be >= 1, got 0$"):
        train(make_net("conv", 9), torch.zeros(4, 1, 9, 9), torch.zeros(4, dtype=torch.int64),
              torch.zeros(4, 1, 9, 9), torch.zeros(4, dtype=torch.int64), epochs=0)


def test_pairs_follow_torch():
    """kernel_size / stride / padding / input_size: an int means (int, int), as in nn.Conv2d."""
    layer = LocallyConnected2d(1, 2, (8, 6), (3, 2), stride=(2, 1), padding=(1, 0))
    assert (layer.input_size, layer.kernel_size, layer.stride, layer.padding) == ((8, 6), (3, 2), (2, 1), (1, 0))
    conv = torch.nn.Conv2d(1, 2, (3, 2), stride=(2, 1), padding=(1, 0))
    assert layer(torch.zeros(1, 1, 8, 6)).shape == conv(torch.zeros(1, 1, 8, 6)).shape == (1, 2, 4, 5)
    assert LocallyConnected2d(1, 2, 8, 3).kernel_size == torch.nn.Conv2d(1, 2, 3).kernel_size == (3, 3)


def test_the_two_nets_differ_only_in_weight_sharing():
    local, conv = make_net("local", 28), make_net("conv", 28)
    x = torch.zeros(3, 1, 28, 28)
    assert local(x).shape == conv(x).shape == (3, 6)
    # conv: 8 filters 5x5x1 and 16 filters 3x3x8 (+ biases) + a 16 -> 6 classifier
    assert count_params(conv) == conv_params(8, 5, bias=True) + conv_params(16, 3, 8, bias=True) + 16 * 6 + 6
    # locally connected: the same filters, repeated at 12x12 and 10x10 positions
    expected = (
        locally_connected_params(8 * 12 * 12, 5, bias=True)
        + locally_connected_params(16 * 10 * 10, 3, 8, bias=True)
        + 16 * 6
        + 6
    )
    assert count_params(local) == expected


def test_small_experiment_learns_well_above_chance():
    table = registration_experiment(n_train=480, n_test=300, size=20, epochs=4, batch_size=32, seed=0)
    assert set(table.accuracy) == {"locally connected", "convolutional"}
    chance = 1 / 6
    for model, row in table.accuracy.items():
        assert set(row) == set(CONDITIONS)
        assert row["registered"] > chance + 0.3, (model, row)
        history = table.histories[model]["registered"]
        assert len(history["epoch"]) == 4
        assert {len(v) for v in history.values()} == {4}
        assert history["train_loss"][-1] < history["train_loss"][0]  # training lowers the loss
    assert table.params["locally connected"] > 10 * table.params["convolutional"]
    text = str(table)
    assert "locally connected" in text and "registered" in text and "chance = 0.167" in text


def test_experiment_is_deterministic():
    a = registration_experiment(n_train=120, n_test=60, size=16, epochs=1, kinds=("conv",), seed=3)
    b = registration_experiment(n_train=120, n_test=60, size=16, epochs=1, kinds=("conv",), seed=3)
    assert a.accuracy == b.accuracy
    assert a.histories["convolutional"]["translated"] == b.histories["convolutional"]["translated"]


def _digits_tensors(seed=0):
    from course_utils.data.digits import split_digits

    d = split_digits(seed, val_fraction=0.0)  # 1,438 training and 359 held-out images
    return tuple(torch.from_numpy(a) for a in (d.X_train, d.y_train, d.X_test, d.y_test))


def _digits_net(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(128, 10))


def test_train_learns_the_digits_and_fgsm_then_fools_the_net():
    """Assignment 3's use: registration.train makes an accurate victim; FGSM at eps 0.2 cuts its accuracy."""
    from course_utils.history import HISTORY_KEYS
    from course_utils.torch_track import fgsm

    X_tr, y_tr, X_val, y_val = _digits_tensors()
    victim, seen = _digits_net(3), []
    history = train(victim, X_tr, y_tr, X_val, y_val, epochs=3, seed=3,
                    on_epoch_end=lambda h: seen.append(len(h["val_acc"])))
    assert tuple(history) == HISTORY_KEYS and history["epoch"] == [1.0, 2.0, 3.0]
    assert seen == [1, 2, 3]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert not victim.training  # left in eval mode, as before
    clean = accuracy(victim, X_val, y_val)
    assert clean >= 0.8, clean  # 8x8 digits, 3 epochs of Adam at lr 2e-3 (the loop before: 0.84; chance 0.1)
    assert abs(history["val_acc"][-1] - clean) < 1e-12
    x_adv = fgsm(victim, X_val[:100], y_val[:100], eps=0.2)
    assert accuracy(victim, x_adv, y_val[:100]) < accuracy(victim, X_val[:100], y_val[:100]) - 0.2


def test_train_is_deterministic_in_its_seed_and_stays_on_the_models_device():
    X_tr, y_tr, X_val, y_val = (t[:300] for t in _digits_tensors())
    runs = []
    for seed in (1, 1, 2):
        model = _digits_net(0)
        runs.append(train(model, X_tr, y_tr, X_val, y_val, epochs=2, batch_size=32, seed=seed))
        assert next(model.parameters()).device.type == "cpu"
    assert runs[0] == runs[1]
    assert runs[0]["train_loss"] != runs[2]["train_loss"]  # another seed, another order of batches
