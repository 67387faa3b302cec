"""The command line, in-process and under ``torchrun --standalone --nproc_per_node=2`` (gloo on CPU)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import train as cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Every test here runs torch on one thread (the fixture is in conftest.py)."""


def test_cli_trains_and_prints_the_validation_accuracy(capsys):
    # 3 epochs: after 2, LeNet on 360 shapes sits near 0.5 on 40 validation images for some splits (0.40 to 0.90
    # over seeds 0-3, with the old and the new stratified split alike); after 3 it is at 0.82-0.98 for both
    acc = cli.main(["--dataset", "shapes", "--model", "lenet", "--epochs", "3", "--limit", "400",
                    "--image-size", "16", "--no-progress", "--test"])
    out = capsys.readouterr().out
    sizes = re.search(r"data: shapes, (\d+) train / (\d+) val / 600 test images of 1x16x16", out)
    n_train, n_val = map(int, sizes.groups())
    assert "device: cpu" in out and n_train + n_val == 400 and 35 <= n_val <= 45
    assert re.search(r"^epoch +3/3 ", out, re.M) and "test accuracy:" in out
    assert f"validation accuracy: {acc:.4f}" in out and acc > 0.5


def test_cli_offline_dataset_falls_back_and_upsamples_for_the_model(tmp_path, capsys):
    acc = cli.main(["--dataset", "mnist", "--model", "lenet", "--epochs", "1", "--limit", "200", "--no-download",
                    "--data-dir", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert "OFFLINE: mnist is not in" in out and "digits (offline fallback for mnist)" in out
    assert "images of 1x28x28" in out and 0.0 <= acc <= 1.0


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--model", "alexnet"])
    with pytest.raises(SystemExit):
        cli.parse_args(["--epochs", "0"])
    assert "--epochs must be >= 1, got 0" in capsys.readouterr().err


def test_torchrun_two_cpu_processes_with_gloo():
    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = [str(torchrun)] if torchrun.exists() else [sys.executable, "-m", "torch.distributed.run"]
    if shutil.which(launcher[0]) is None and not Path(launcher[0]).exists():
        pytest.fail("torchrun not found")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = launcher + ["--standalone", "--nproc_per_node=2", "-m", "course_utils.train", "--dataset", "shapes",
                      "--model", "lenet", "--epochs", "3", "--limit", "600", "--image-size", "16",
                      "--batch-size", "32", "--device", "cpu", "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0 and "validation accuracy:" in proc.stdout and "SIGABRT" in proc.stderr:
        # seen twice under load: both ranks finish and print, then abort in gloo's teardown at exit ("terminate
        # called without an active exception"); cause not found yet: one more run must succeed outright
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "distributed: 2 processes (gloo); ranks that answered: [0, 1]" in out
    n_train = int(re.search(r"data: shapes, (\d+) train", out).group(1))
    per_rank = [int(n) for n in re.search(r"training images per rank: \[(\d+), (\d+)\]", out).groups()]
    assert per_rank == [(n_train + 1) // 2] * 2  # each rank gets its half (DistributedSampler pads to even)
    assert "weights identical on all ranks: True" in out
    assert out.count("validation accuracy:") == 1  # only rank 0 prints
    acc = float(re.search(r"validation accuracy: ([0-9.]+)", out).group(1))
    assert acc > 0.5  # 6 classes: chance is 1/6
