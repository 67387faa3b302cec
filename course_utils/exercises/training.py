"""Training in PyTorch (lecture slide 50; notebook 07, Assignment 3 parts 1-2).

The model of Assignment 3 is ``digits_net(seed)`` on scikit-learn's 8x8 digits (``assignment_digits``):
x (N, 1, 8, 8) float32 in [0, 1], y (N,) int64.
"""

from __future__ import annotations

import numpy as np

from .core import Exercise, Mistake, Variants, compare, implementation, register

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")
TARGET_ACCURACY = 0.90  # stated in the assignment: validation accuracy on digits after TRAIN_EPOCHS epochs
TRAIN_EPOCHS = 3  # a correct loop reaches ~0.96; no zero_grad, no step or no momentum stay below 0.9


def digits_net(seed: int):
    """The small CNN of Assignment 3 (for 8x8 digits), seeded: conv 3x3 (8) -> ReLU -> pool 2 -> linear 10."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 10))


def assignment_digits(seed: int):
    """Assignment 3's data as torch tensors (X_train, y_train, X_val, y_val): the course's digits split,
    ``split_digits(seed, val_fraction=0.2, test_fraction=0.0)``: 1,438 training and 359 validation images,
    stratified."""
    import torch

    from course_utils.data.digits import split_digits

    d = split_digits(seed, val_fraction=0.2, test_fraction=0.0)
    return tuple(torch.from_numpy(a) for a in (d.X_train, d.y_train, d.X_val, d.y_val))


def model_cases(n: int):
    def cases(seed: int) -> list[dict]:
        """``n`` cases: a network seed, a batch of 1-39 random images, an eps among 0, 0.05, 0.1, 0.3."""
        rng = np.random.default_rng(seed)
        return [dict(seed=int(rng.integers(1 << 30)), n=int(rng.integers(1, 40)),
                     eps=float(rng.choice([0.0, 0.05, 0.1, 0.3]))) for _ in range(n)]

    return cases


def model_inputs(case):
    """(x (n, 1, 8, 8) uniform in [0, 1), y (n,) random labels) of a ``model_cases`` case."""
    import torch

    g = torch.Generator().manual_seed(case["seed"])
    return torch.rand(case["n"], 1, 8, 8, generator=g), torch.randint(0, 10, (case["n"],), generator=g)


# ---------------------------------------------------------------- accuracy
def _accuracy_call(fn, case):
    x, y = model_inputs(case)
    return float(fn(digits_net(case["seed"]), x, y))


@implementation
def _accuracy(case) -> float:
    import torch

    x, y = model_inputs(case)
    with torch.no_grad():
        return (digits_net(case["seed"])(x).argmax(1) == y).double().mean().item()


@implementation
def _accuracy_count(case):
    """Wrong: the number of correct predictions, or their percentage, instead of the fraction."""
    import torch

    x, y = model_inputs(case)
    with torch.no_grad():
        correct = float((digits_net(case["seed"])(x).argmax(1) == y).sum().item())
    return Variants(correct, 100.0 * correct / len(y))


register(Exercise(
    "accuracy", model_cases(5), _accuracy, call=_accuracy_call,
    mistakes=(Mistake("count_not_fraction", "your accuracy equals the NUMBER (or the percentage) of correct "
                                            "predictions: divide by the number of images, a fraction in [0, 1]",
                      _accuracy_count),),
    judge=lambda case, got: compare(got, _accuracy(case), names=["accuracy (a fraction in [0, 1])"]),
    hints={"values": "the fraction (a float in [0, 1]) of images whose largest logit (argmax over dim=1) is "
                     "the label"},
    describe=lambda c: f"{c['n']} images", numpy_only=False,
), "a3_accuracy")


# ---------------------------------------------------------------- a training loop
def _load_params(model, arrays):
    import torch

    state = model.state_dict()
    if len(arrays) != len(state):
        raise ValueError(f"expected {len(state)} parameter arrays, got {len(arrays)}")
    model.load_state_dict({k: torch.tensor(a, dtype=v.dtype).reshape(v.shape) for (k, v), a in
                           zip(state.items(), arrays)})
    return model


def _sorted_by_class(X, y):
    """The training set ordered by label, as data often arrives: a loop that does not shuffle sees one class
    per mini-batch (Assignment 3, part 3)."""
    import torch

    order = torch.argsort(y, stable=True)
    return X[order], y[order]


def _train_call(fn, case):
    import torch

    model = digits_net(case["seed"])
    Xtr, ytr, Xva, yva = assignment_digits(case["seed"])
    Xtr, ytr = _sorted_by_class(Xtr, ytr)
    torch.manual_seed(case["seed"])
    calls = []
    history = fn(model, Xtr, ytr, Xva, yva, epochs=case["epochs"], lr=case["lr"], batch_size=32,
                 on_epoch_end=lambda h: calls.append(len(h["val_acc"])))
    missing = [k for k in HISTORY_KEYS if k not in history]
    if missing:
        raise KeyError(f"the history has no {missing} (keys: {list(history)})")
    params = tuple(p.detach().cpu().numpy() for p in model.state_dict().values())
    return (*params, np.array([[float(v) for v in history[k]] for k in HISTORY_KEYS]), np.array(calls, float))


def _train_judge(case, got) -> str | None:
    """The trained parameters reach TARGET_ACCURACY; the history and on_epoch_end calls are as stated."""
    import torch

    epochs = case["epochs"]
    if len(got) < 3:
        return "no trained parameters or history were saved"
    *params, history, calls = got
    if history.shape != (len(HISTORY_KEYS), epochs):
        return f"history should hold {epochs} values per key {HISTORY_KEYS}, got an array of shape {history.shape}"
    if list(calls) != list(range(1, epochs + 1)):
        return f"on_epoch_end(history) should be called after each of the {epochs} epochs; got {list(calls)}"
    try:
        model = _load_params(digits_net(case["seed"]), params)
    except (ValueError, RuntimeError) as err:
        return f"the trained model's parameters do not fit the network ({err})"
    _, _, Xva, yva = assignment_digits(case["seed"])
    with torch.no_grad():
        accuracy = (model(Xva).argmax(1) == yva).double().mean().item()
    if not accuracy >= TARGET_ACCURACY:
        return f"validation accuracy after {epochs} epochs is {accuracy:.3f}, expected at least {TARGET_ACCURACY}"
    if abs(history[4, -1] - accuracy) > 0.02:
        return f"history['val_acc'][-1] = {history[4, -1]:.3f} but the model's validation accuracy is {accuracy:.3f}"
    with torch.no_grad():
        val_loss = torch.nn.functional.cross_entropy(model(Xva), yva).item()
    if abs(history[3, -1] - val_loss) > 0.05 * val_loss:
        return f"history['val_loss'][-1] = {history[3, -1]:.4f} but the model's validation loss is {val_loss:.4f}"
    if not history[1, -1] < history[1, 0]:
        return "the training loss did not decrease"
    return None


def _trained(case, got):
    """(history (5, epochs), the trained model) of the saved outputs of a training loop, or None."""
    *params, history, _ = got
    if history.shape != (len(HISTORY_KEYS), case["epochs"]):
        return None
    return history, _load_params(digits_net(case["seed"]), params)


def _moved_and_predictions(case, got):
    """(the training losses per epoch, whether the weights moved, the validation accuracy, the share of
    validation images given the most frequent prediction) of the saved outputs of a training loop."""
    import torch

    history, model = _trained(case, got)
    initial = digits_net(case["seed"]).state_dict().values()
    moved = any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), initial))
    _, _, Xva, yva = assignment_digits(case["seed"])
    with torch.no_grad():
        predicted = model(Xva).argmax(1)
    accuracy = (predicted == yva).double().mean().item()
    top_share = torch.bincount(predicted).max().item() / len(predicted)
    return history[1], moved, accuracy, top_share


#: a training loss that ends more than this many times its first epoch's has blown up (gradients that pile up
#: reach 20-30 times; a loop that does not shuffle class-sorted data ends near 1.2 times, measured)
BLOWN_UP = 2.0


@implementation
def _no_zero_grad(case, got) -> bool:
    """The symptom of gradients accumulated across batches: the weights moved, the training loss blew up (or
    overflowed) and the model is no better than the target."""
    loss, moved, accuracy, _ = _moved_and_predictions(case, got)
    return moved and accuracy < TARGET_ACCURACY and (not np.all(np.isfinite(loss)) or loss[-1] > BLOWN_UP * loss[0])


@implementation
def _not_shuffled(case, got) -> bool:
    """The symptom of class-sorted mini-batches: the weights moved, the loss stayed finite without blowing up,
    and the model gives one class to (almost) every validation image."""
    loss, moved, accuracy, top_share = _moved_and_predictions(case, got)
    return (moved and accuracy < TARGET_ACCURACY and top_share >= 0.9 and bool(np.all(np.isfinite(loss)))
            and loss[-1] <= BLOWN_UP * loss[0])


@implementation
def _no_step(case, got) -> bool:
    """The weights after training are the initial ones."""
    import torch

    _, model = _trained(case, got)
    initial = digits_net(case["seed"]).state_dict().values()
    return all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), initial))


@implementation
def _validated_on_training_set(case, got) -> bool:
    """The history's last validation accuracy (or loss) is the trained model's on the TRAINING set, not on the
    validation set."""
    import torch

    history, model = _trained(case, got)
    Xtr, ytr, Xva, yva = assignment_digits(case["seed"])
    with torch.no_grad():
        acc_train, acc_val = ((model(X).argmax(1) == y).double().mean().item() for X, y in ((Xtr, ytr), (Xva, yva)))
        loss_train, loss_val = (torch.nn.functional.cross_entropy(model(X), y).item()
                                for X, y in ((Xtr, ytr), (Xva, yva)))
    return (abs(history[4, -1] - acc_train) < 1e-4 < abs(acc_train - acc_val)
            or abs(history[3, -1] - loss_train) < 1e-3 * loss_train < abs(loss_train - loss_val))


TRAIN_MISTAKES = (
    Mistake("no_zero_grad", "your training loss grows while the weights change, the symptom of gradients that "
                            "pile up across batches: call optimizer.zero_grad() before each loss.backward()",
            matches=_no_zero_grad),
    Mistake("no_step", "your model's weights after training are the initial ones: call optimizer.step() after "
                       "each loss.backward(), with an optimizer built on model.parameters()", matches=_no_step),
    Mistake("validated_on_training_set", "your history's validation numbers are the model's on the TRAINING set: "
                                         "evaluate on X_val, y_val", matches=_validated_on_training_set),
    Mistake("not_shuffled", "your model gives one class to almost every image: on data sorted by class, a loop "
                            "that never shuffles sees one class per batch; use torch.randperm(n) each epoch",
            matches=_not_shuffled),
)

register(Exercise(
    "train", lambda seed: [dict(seed=seed, epochs=TRAIN_EPOCHS, lr=0.1)], call=_train_call, judge=_train_judge,
    mistakes=TRAIN_MISTAKES,
    hints={"values": "each epoch a new random order of the training set (shuffle=True); for each mini-batch: "
                     "forward, cross-entropy, zero_grad, backward, step (SGD, momentum 0.9); after each epoch "
                     "append to every history list and call on_epoch_end(history)"},
    describe=lambda c: f"digits sorted by class, {c['epochs']} epochs, lr={c['lr']}, batch 32", numpy_only=False,
    uses={"accuracy": "course_utils.registration:accuracy"}, checked_cases=1,
), "a3_train")


# ---------------------------------------------------------------- notebook 07: early stopping
def _stopping_cases(seed: int) -> list[dict]:
    """8 validation-loss curves of 1-15 epochs (with plateaus: values rounded to 0.05), patience 1-4."""
    rng = np.random.default_rng(seed)
    return [dict(val_losses=[round(float(v), 2) for v in np.round(rng.uniform(0.2, 1.0, int(rng.integers(1, 16)))
                                                                  * 20) / 20],
                 patience=int(rng.integers(1, 5))) for _ in range(8)]


@implementation
def _stopping(case) -> tuple[int, int]:
    """(best epoch, stop epoch), 1-based: stop once ``patience`` epochs passed without a strictly lower loss."""
    best, best_epoch, waited = float("inf"), 0, 0
    for epoch, loss in enumerate(case["val_losses"], start=1):
        if loss < best:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
        if waited >= case["patience"]:
            return best_epoch, epoch
    return best_epoch, len(case["val_losses"])


register(Exercise(
    "stopping_epochs", _stopping_cases, lambda case: np.array(_stopping(case), dtype=float),
    examples=lambda: [dict(val_losses=v, patience=p) for v, p in
                      [([1.0, 0.8, 0.9, 0.95, 0.7], 2), ([1.0, 0.9, 0.8, 0.7], 2), ([0.5, 0.5, 0.5], 2),
                       ([0.9, 0.6, 0.6, 0.59, 0.7, 0.8, 0.9], 3), ([1.0], 1)]],
    call=lambda fn, case: np.array(tuple(fn(list(case["val_losses"]), case["patience"])), dtype=float),
    hints={"shape": "return two numbers: (best_epoch, stop_epoch)",
           "values": "count epochs since the last STRICTLY lower loss; stop when the count reaches patience "
                     "(epochs are 1-based)"},
    describe=lambda c: f"stopping_epochs({c['val_losses']}, patience={c['patience']})", numpy_only=False,
))


# ---------------------------------------------------------------- notebook 07: a training loop that monitors validation
FIT_MIN_VAL_ACCURACY = 0.8  # after 3 epochs (the course's fit gets about 0.95)


def _fit_call(fn, case):
    """Train a seeded LeNet-5 with ``fn`` on the digits (16x16, ``make_loaders``); returns, per course key, the
    history's length (-1: missing), the number of extra keys, the history (NaN where missing) and a fresh
    evaluation (validation loss, accuracy) of the trained model."""
    from course_utils.torch_track import build_model, evaluate, make_loaders, seed_everything

    data = make_loaders("digits", image_size=16, seed=case["seed"], verbose=False)
    seed_everything(case["seed"])
    model = build_model("lenet", 10, 1).to("cpu")
    history = fn(model, data.train, data.val, epochs=case["epochs"], lr=case["lr"])
    lengths = np.array([len(history[k]) if k in history else -1 for k in HISTORY_KEYS], dtype=float)
    values = np.full((len(HISTORY_KEYS), case["epochs"]), np.nan)
    for i, k in enumerate(HISTORY_KEYS):
        if lengths[i] == case["epochs"]:
            values[i] = [float(v) for v in history[k]]
    val_loss, val_acc = evaluate(model, data.val, "cpu")
    return lengths, float(len(set(history) - set(HISTORY_KEYS))), values, np.array([val_loss, val_acc])


def _fit_judge(case, got):
    lengths, extra, history, (val_loss, val_acc) = got
    missing = [k for k, n in zip(HISTORY_KEYS, lengths) if n < 0]
    if missing or extra:
        return (f"the history's keys: {missing} missing" if missing else f"the history has {int(extra)} key(s) "
                f"besides {list(HISTORY_KEYS)}"), "keys"
    for k, n in zip(HISTORY_KEYS, lengths):
        if n != case["epochs"]:
            return f"len(history[{k!r}]) = {int(n)} after {case['epochs']} epochs", "lengths"
    if not np.isclose(history[3, -1], val_loss, rtol=1e-3, atol=0):
        return f"last validation loss {history[3, -1]:.5g}, a fresh evaluation gives {val_loss:.5g}", "val_loss"
    if not np.isclose(history[4, -1], val_acc, rtol=1e-3, atol=0):
        return f"last validation accuracy {history[4, -1]:.5g}, a fresh evaluation gives {val_acc:.5g}", "val_acc"
    if not history[1, -1] < history[1, 0]:
        return f"the training loss did not go down: {[round(float(v), 4) for v in history[1]]}", "train_loss"
    if not val_acc >= FIT_MIN_VAL_ACCURACY:
        return (f"validation accuracy after {case['epochs']} epochs {val_acc:.3f}, expected at least "
                f"{FIT_MIN_VAL_ACCURACY} (the course's fit gets about 0.95)"), "values"
    return None


register(Exercise(
    "fit", lambda seed: [dict(seed=1 + seed, epochs=3, lr=3e-3)], call=_fit_call, judge=_fit_judge,
    hints={"keys": "use exactly the course's five keys: " + ", ".join(HISTORY_KEYS),
           "lengths": "append one number per epoch to every list",
           "val_loss": "average the loss over every validation image, in eval mode, after the epoch",
           "val_acc": "accuracy = correct predictions / number of validation images",
           "train_loss": "zero the gradients, loss.backward(), optimizer.step() for every batch",
           "values": "is the optimiser created once, outside the loop?"},
    describe=lambda c: f"LeNet-5 on the digits (seed {c['seed']}), {c['epochs']} epochs, lr={c['lr']}",
    numpy_only=False, checked_cases=1,
))
