"""The training loop: history format and callback, evaluate against a float64 reference, checkpoint resume
gives the same continuation, early stopping (with best-weights restore), fine-tuning."""

import copy

import pytest
import torch
import torch.nn.functional as F

from course_utils.torch_track import build_model, evaluate, fine_tune, fit, load_checkpoint, make_loaders
from course_utils.torch_track.train import HISTORY_KEYS


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Every test here runs torch on one thread (the fixture is in conftest.py)."""


@pytest.fixture(scope="module")
def shapes():
    return make_loaders("shapes", limit=360, batch_size=32, image_size=16, augment="crop", verbose=False)


def lenet(data, seed=0):
    torch.manual_seed(seed)
    return build_model("lenet", data.num_classes, data.in_channels)


def test_history_format_and_on_epoch_end(shapes):
    seen = []
    history = fit(lenet(shapes), shapes.train, shapes.val, epochs=3, lr=3e-3, device="cpu", progress=False,
                  on_epoch_end=lambda h: seen.append((id(h), len(h["epoch"]))), verbose=False)
    assert list(history) == list(HISTORY_KEYS)
    assert {i for i, _ in seen} == {id(history)}  # the callback gets the live history dict
    assert all(len(v) == 3 and all(isinstance(x, float) for x in v) for v in history.values())
    assert history["epoch"] == [1.0, 2.0, 3.0]
    assert [n for _, n in seen] == [1, 2, 3]
    assert history["val_acc"][-1] > 0.5  # 6 classes: chance is 1/6
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_evaluate_matches_a_float64_reference(shapes):
    model = lenet(shapes).eval()
    loss, acc = evaluate(model, shapes.val, "cpu")
    X, y = shapes.val.dataset.X, shapes.val.dataset.y
    with torch.no_grad():
        logits = model(X).double()
    ref_loss = -F.log_softmax(logits, dim=1)[torch.arange(len(y)), y].mean().item()
    ref_acc = (logits.argmax(1) == y).double().mean().item()
    assert loss == pytest.approx(ref_loss, rel=1e-5) and acc == pytest.approx(ref_acc, abs=1e-12)


def test_checkpoint_resume_gives_the_same_continuation(shapes, tmp_path):
    kw = dict(lr=3e-3, schedule="onecycle", device="cpu", progress=False, verbose=False, seed=5)
    straight = lenet(shapes)
    h_straight = fit(straight, shapes.train, shapes.val, epochs=4, **kw)

    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Interrupt):  # as if the run were killed after epoch 2 (its checkpoint is written)
        fit(lenet(shapes), shapes.train, shapes.val, epochs=4, checkpoint=ckpt, on_epoch_end=_stop_after(2), **kw)
    assert load_checkpoint(ckpt, lenet(shapes))["history"]["epoch"] == [1.0, 2.0]
    resumed = lenet(shapes, seed=99)  # different initial weights: everything must come from the checkpoint
    h_resumed = fit(resumed, shapes.train, shapes.val, epochs=4, checkpoint=ckpt, resume=True, **kw)
    assert h_resumed == h_straight
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert load_checkpoint(ckpt, lenet(shapes))["history"]["epoch"] == [1.0, 2.0, 3.0, 4.0]


class _Interrupt(Exception):
    pass


def _stop_after(n):
    def callback(history):
        if len(history["epoch"]) == n:
            raise _Interrupt

    return callback


def test_early_stopping_stops_and_restores_the_best_weights(shapes):
    model = lenet(shapes)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    snapshots = []

    def sabotage(history):  # after epoch 2: scramble the weights and freeze learning -> val loss only worse
        snapshots.append(copy.deepcopy(model.state_dict()))
        if len(history["epoch"]) == 2:
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(torch.randn_like(p) * 3)
            for g in opt.param_groups:
                g["lr"] = 0.0

    history = fit(model, shapes.train, shapes.val, epochs=20, optimizer=opt, patience=3, device="cpu",
                  on_epoch_end=sabotage, progress=False, verbose=False)
    assert len(history["epoch"]) == 5  # 2 good epochs, then 3 without improvement
    best = min(range(5), key=lambda i: history["val_loss"][i])
    assert best == 1
    for a, b in zip(model.state_dict().values(), snapshots[best].values()):
        torch.testing.assert_close(a, b)


def test_fine_tuning_replaces_the_head_and_trains_only_it(tmp_path):
    src = make_loaders("shapes", limit=400, batch_size=32, verbose=False)  # 28x28, 6 classes
    model = build_model("lenet", src.num_classes, 1)
    fit(model, src.train, src.val, epochs=2, lr=3e-3, device="cpu", checkpoint=tmp_path / "shapes.pt",
        progress=False, verbose=False)

    dst = make_loaders("digits", limit=500, image_size=28, batch_size=32, verbose=False)  # 10 classes
    pretrained = build_model("lenet", src.num_classes, 1)
    load_checkpoint(tmp_path / "shapes.pt", pretrained)
    body_before = copy.deepcopy(pretrained.body.state_dict())
    history = fine_tune(pretrained, dst.train, dst.val, num_classes=10, epochs=3, lr=1e-2, device="cpu",
                        progress=False, verbose=False)
    assert pretrained.head.out_features == 10
    for k, v in pretrained.body.state_dict().items():
        torch.testing.assert_close(v, body_before[k], rtol=0, atol=0)
    assert history["val_acc"][-1] > 0.3  # digits: chance is 0.1; only a linear head on shape features learnt


def test_fit_rejects_bad_arguments(shapes):
    with pytest.raises(ValueError, match="fit: epochs must be >= 1, got 0"):
        fit(lenet(shapes), shapes.train, shapes.val, epochs=0)
    with pytest.raises(ValueError, match="fit: patience must be >= 1, got 0"):
        fit(lenet(shapes), shapes.train, shapes.val, epochs=1, patience=0)
    with pytest.raises(ValueError, match=r"fit: schedule must be one of \(None, 'onecycle'\), got 'cosine'"):
        fit(lenet(shapes), shapes.train, shapes.val, epochs=1, schedule="cosine")


def test_history_feeds_the_training_dashboard(shapes):
    dashboard = pytest.importorskip("course_utils.widgets.dashboard")
    states = []
    fit(lenet(shapes), shapes.train, shapes.val, epochs=2, device="cpu", progress=False, verbose=False,
        on_epoch_end=lambda h: states.append(dashboard.make_state(h)))  # the widget's own format check
    assert [len(s.epoch) for s in states] == [1, 2] and len(states[-1].val_acc) == 2
    fig = dashboard.draw(states[-1], dashboard.compute(states[-1]))
    assert len(fig.axes) >= 2


def test_history_is_the_course_history_and_the_old_names_still_import():
    import course_utils.history as H
    import course_utils.torch_track as T
    from course_utils.torch_track import train as train_module

    assert T.HISTORY_KEYS is H.HISTORY_KEYS is train_module.HISTORY_KEYS
    assert T.new_history is H.new_history is train_module.new_history
    assert T.new_history() == {k: [] for k in H.HISTORY_KEYS}


def test_fit_over_tensors_with_on_batch_end_replaces_a_hand_written_loop():
    """tensor_loader + fit + on_batch_end: per-step losses and gradient norms, as notebook 06's train_deep."""
    from course_utils.data.digits import split_digits
    from course_utils.torch_track.data import tensor_loader

    d = split_digits(0, val_fraction=0.0, test_fraction=0.44)
    X_tr, y_tr = torch.from_numpy(d.X_train), torch.from_numpy(d.y_train)
    X_te, y_te = torch.from_numpy(d.X_test), torch.from_numpy(d.y_test)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 8 * 8, 10))
    losses, norms = [], []

    def record(m, loss):
        assert m is model
        losses.append(loss)
        norms.append(m[0].weight.grad.norm().item())

    train = tensor_loader(X_tr, y_tr, batch_size=50, shuffle=True)
    history = fit(model, train, tensor_loader(X_te, y_te, 500), epochs=3, lr=1e-3, device="cpu", seed=0,
                  on_batch_end=record, progress=False, verbose=False)
    steps = 3 * -(-len(y_tr) // 50)
    assert len(losses) == len(norms) == steps == 3 * len(train)
    assert all(isinstance(v, float) for v in losses) and min(norms) > 0
    assert sum(losses[-10:]) < sum(losses[:10])
    with torch.no_grad():
        acc = (model(X_te).argmax(1) == y_te).double().mean().item()
    assert history["val_acc"][-1] == pytest.approx(acc, abs=1e-12) and acc > 0.85


def test_tensor_loader_batches_by_slicing_and_checks_shapes():
    from course_utils.torch_track.data import tensor_loader

    X, y = torch.arange(7 * 4, dtype=torch.float32).reshape(7, 1, 2, 2), torch.arange(7)
    batches = list(tensor_loader(X, y, batch_size=3))
    assert [len(b[1]) for b in batches] == [3, 3, 1]
    torch.testing.assert_close(torch.cat([b[0] for b in batches]), X)
    torch.manual_seed(0)
    shuffled = torch.cat([b[1] for b in tensor_loader(X, y, batch_size=3, shuffle=True)])
    assert sorted(shuffled.tolist()) == list(range(7)) and shuffled.tolist() != list(range(7))
    with pytest.raises(ValueError, match=r"^tensor_loader: X and y must have shapes \(N, C, H, W\) and \(N,\), "
                                         r"got \(7, 4\) and \(7,\)$"):
        tensor_loader(X.reshape(7, 4), y)
    with pytest.raises(ValueError, match=r"^tensor_loader: batch_size must be >= 1, got 0$"):
        tensor_loader(X, y, batch_size=0)
