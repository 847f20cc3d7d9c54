"""Fault table, part 3: ``fit``'s checkpoint folder, in one process. Corrupt pointers and
manifests, damaged shard files, resume conditions that changed (loader, model, optimizer),
earlier runs in the folder, a second ``fit`` on it, stale temporaries. Every row asserts a
named error or a correct continuation, and that no checkpoint already in the folder is lost
or changed."""

from __future__ import annotations

import fcntl
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnet
from fnet import data as D
from fnet import nn, optim
from fnet import train as T
from fnet._safetensors import load_file, save_file

EPOCH = 6  # steps per epoch: 48 samples in batches of 8


def xent(logits, target):
    return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()


def _model(width=8, named=False):
    if named:
        class Named(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2 = nn.Linear(4, width), nn.Linear(width, 3)

            def forward(self, ctx, x):
                return self.fc2(ctx, jax.nn.relu(self.fc1(ctx, x)))

        return Named()
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 3))


def _loader(n=48, batch=8, seed=0, shuffle=True):
    ds = D.make_classification(n, n_features=4, n_classes=3, separation=4.0, seed=3)
    return D.DataLoader(ds, batch_size=batch, shuffle=shuffle, seed=seed)


def _fit(directory, *, model=None, opt=None, loader=None, epochs=1, params=None, **kw):
    model = model or _model()
    if params is None:
        params, state = model.init(jax.random.key(0))
    else:
        state = {}
    kw.setdefault("checkpoint_every", 4)
    return T.fit(model, params, state, opt or optax.adam(0.01), loader or _loader(), xent, epochs=epochs,
                 progress=False, checkpoint_dir=None if directory is None else str(directory), **kw)


def _snapshot(directory) -> dict[str, bytes]:
    """Every file under ``directory`` (relative path -> bytes): nothing may change or vanish."""
    out = {}
    for root, _, files in os.walk(directory):
        for f in files:
            path = os.path.join(root, f)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, directory)] = handle.read()
    return out


def _same_trees(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A folder holding one run: 1 epoch (6 steps), checkpoints at steps 4 and 6."""
    directory = tmp_path_factory.mktemp("saved")
    _fit(directory)
    return directory


def _copy(saved, tmp_path):
    import shutil

    target = tmp_path / "ckpt"
    shutil.copytree(saved, target)
    return target


# -- changed resume conditions ---------------------------------------------------------------------------

CHANGED = [
    ("batch size", dict(loader=_loader(batch=16)), r"steps_per_epoch: 6 in the checkpoint, 3 now\n\tbatch_size: 8 in "
                                                    r"the checkpoint, 16 now"),
    ("dataset length, same steps", dict(loader=_loader(n=47)), "dataset_length: 48 in the checkpoint, 47 now"),
    ("shuffle seed", dict(loader=_loader(seed=1)), "seed: 0 in the checkpoint, 1 now"),
    ("no shuffle", dict(loader=_loader(shuffle=False)), "shuffle: True in the checkpoint, False now"),
    ("RMSprop for Adam", dict(opt=optax.rmsprop(0.01)),
     r"opt_state: the checkpoint has \[0\].count, \[0\].mu\['0'\]\['bias'\].*which this run lacks(?s:.*)"
     r"checkpoint only: \[0\]: ScaleByAdamState; this run only: \[0\]: ScaleByRmsState"),
    ("AdamW for Adam, same leaves", dict(opt=optax.adamw(0.01)),
     r"opt_state structure differs \(this run only: \[2\]: EmptyState\)"),
    ("fnet AdamW for optax Adam", dict(opt=optim.AdamW(lr=0.01)), r"opt_state: this run has \[0\].step, \[0\].exp_avg"),
    ("a wider layer", dict(model=_model(width=16)), r"params 0.weight: float32 \(8, 4\) in the checkpoint, float32 "
                                                    r"\(16, 4\) now"),
    ("renamed layers", dict(model=_model(named=True)), r"params: this run has fc1.bias.*which the checkpoint lacks"),
    ("bfloat16 parameters", dict(params=jax.tree.map(lambda a: a.astype(jnp.bfloat16),
                                                     _model().init(jax.random.key(0))[0])),
     r"params 0.bias: float32 \(8,\) in the checkpoint, bfloat16 \(8,\) now"),
]


@pytest.mark.parametrize("case", CHANGED, ids=[c[0] for c in CHANGED])
def test_resume_refuses_a_run_that_differs_saying_what_changed(saved, tmp_path, case):
    _, kw, pattern = case
    directory = _copy(saved, tmp_path)
    before = _snapshot(directory)
    with pytest.raises(T.ResumeError, match=pattern) as err:
        _fit(directory, epochs=3, **kw)
    assert "resume=False" in str(err.value) and "step 6" in str(err.value)
    assert _snapshot(directory) == before


def test_sgd_momentum_run_refuses_rmsprop_by_name(tmp_path):
    # The old reader matched optimizer state by count and shapes: RMSprop restored SGD's momentum.
    _fit(tmp_path, opt=optax.sgd(0.1, momentum=0.9))
    with pytest.raises(T.ResumeError, match=r"\[0\].trace\['0'\]\['bias'\].*which this run lacks"):
        _fit(tmp_path, opt=optax.rmsprop(0.01), epochs=2)


# -- corrupt pointers, manifests and shards ----------------------------------------------------------------

def _run(directory) -> str:
    return json.loads((directory / "latest.json").read_text())["run"]


POINTERS = [
    ("empty", b"", "is corrupt"),
    ("binary garbage", b"\x00\xff\x13\x37", "is corrupt"),
    ("cut JSON", b'{"run": "ab', "is corrupt"),
    ("a JSON list", b"[6]", "expected an object with run, step and checkpoint"),
    ("no checkpoint field", b'{"run": "00000000", "step": 6}', "expected an object with run, step and checkpoint"),
    ("step a string", b'{"run": "00000000", "step": "6", "checkpoint": "x"}', "expected an object"),
    ("an older fnet's pointer", b'{"step": 6, "model": "model-000000006.safetensors", "train": "t"}',
     "expected an object with run, step and checkpoint"),
    ("points to a missing checkpoint", None, "points to 'checkpoint-000000099-"),
]


@pytest.mark.parametrize("case", POINTERS, ids=[c[0] for c in POINTERS])
def test_corrupt_pointer_is_named_with_the_checkpoints_present(saved, tmp_path, case):
    _, content, pattern = case
    directory = _copy(saved, tmp_path)
    pointer = directory / "latest.json"
    if content is None:
        content = json.dumps({"run": _run(directory), "step": 99,
                              "checkpoint": f"checkpoint-000000099-{_run(directory)}"}).encode()
    pointer.write_bytes(content)
    before = _snapshot(directory)
    with pytest.raises(fnet.CheckpointError, match=pattern) as err:
        _fit(directory, epochs=2)
    message = str(err.value)
    assert str(pointer) in message and f"checkpoint-000000006-{_run_of(directory)}" in message
    assert _snapshot(directory) == before


def _run_of(directory) -> str:
    return next(n for n in os.listdir(directory) if n.startswith("checkpoint-"))[-8:]


def _newest(directory):
    return directory / sorted(n for n in os.listdir(directory) if n.startswith("checkpoint-"))[-1]


def _drop_a_tensor(path):
    tensors, meta = load_file(path)
    tensors.pop(sorted(tensors)[0])
    save_file(tensors, path, meta)


DAMAGED = [
    ("manifest not JSON", lambda c: (c / "manifest.json").write_text("{oops"), "manifest .*manifest.json' is corrupt"),
    ("manifest of another format", lambda c: (c / "manifest.json").write_text('{"format": "orbax"}'),
     "is not an fnet.train.checkpoint/1 manifest"),
    ("manifest missing", lambda c: os.remove(c / "manifest.json"), "has no manifest.json"),
    ("shard file missing", lambda c: os.remove(c / "process-00000-of-00001.safetensors"),
     "lacks process-00000-of-00001.safetensors"),
    ("shard file truncated", lambda c: open(c / "process-00000-of-00001.safetensors", "r+b").truncate(300),
     "process-00000-of-00001.safetensors.*truncated"),
    ("a tensor missing from the shards", lambda c: _drop_a_tensor(c / "process-00000-of-00001.safetensors"),
     r"the shard files hold 0 of the \d+ values of"),
]


@pytest.mark.parametrize("case", DAMAGED, ids=[c[0] for c in DAMAGED])
def test_damaged_checkpoint_is_refused_naming_the_file(saved, tmp_path, case):
    _, damage, pattern = case
    directory = _copy(saved, tmp_path)
    damage(_newest(directory))
    before = _snapshot(directory)
    with pytest.raises(fnet.CheckpointError, match=pattern):
        _fit(directory, epochs=2)
    assert _snapshot(directory) == before


# -- correct continuations ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference():
    """Three uninterrupted epochs (18 steps), no checkpoints."""
    return _fit(None, epochs=3)


def test_resume_with_more_epochs_equals_an_uninterrupted_run(saved, tmp_path, reference):
    directory = _copy(saved, tmp_path)
    resumed = _fit(directory, epochs=3)
    assert resumed.step == 18
    _same_trees(reference.params, resumed.params)
    _same_trees(reference.opt_state, resumed.opt_state)
    assert resumed.history["epoch"] == [1, 2, 3]
    np.testing.assert_allclose(resumed.history["loss"], reference.history["loss"], rtol=1e-6)


def test_resuming_a_finished_run_trains_nothing_and_returns_it(saved, tmp_path):
    directory = _copy(saved, tmp_path)
    before = T.load_checkpoint(directory, _model(), optax.adam(0.01))
    again = _fit(directory, epochs=1)
    assert again.step == 6 and again.history["epoch"] == [1]
    _same_trees(before.params, again.params)


def test_a_new_run_never_prunes_an_earlier_runs_checkpoints(tmp_path, reference):
    """The defect: resume=False, keep_checkpoints=1 in a folder whose earlier run had higher
    steps deleted the checkpoint just written; latest.json then pointed nowhere."""
    _fit(tmp_path, epochs=3)  # an earlier run: checkpoints up to step 18
    earlier = _snapshot(tmp_path)
    first_run = _run(tmp_path)
    new = _fit(tmp_path, epochs=1, resume=False, keep_checkpoints=1)
    latest = T.latest_checkpoint(tmp_path)
    assert latest["run"] != first_run and latest["step"] == 6 and os.path.isdir(latest["path"])
    assert [n for n in os.listdir(tmp_path) if n.startswith("checkpoint-") and n.endswith(latest["run"])] == [
        f"checkpoint-000000006-{latest['run']}"]  # keep=1: its own newest only
    now = _snapshot(tmp_path)
    assert {k: v for k, v in now.items() if first_run in k} == {k: v for k, v in earlier.items() if first_run in k}
    _same_trees(T.load_checkpoint(latest["path"], _model(), optax.adam(0.01)).params, new.params)
    resumed = _fit(tmp_path, epochs=3)  # continues the new run, from its step 6
    _same_trees(reference.params, resumed.params)


def test_without_a_pointer_the_newest_complete_checkpoint_is_used(saved, tmp_path, reference):
    directory = _copy(saved, tmp_path)
    os.remove(directory / "latest.json")  # killed between the first commit and the first pointer
    assert T.latest_checkpoint(directory)["step"] == 6
    _same_trees(reference.params, _fit(directory, epochs=3).params)


def test_keep_checkpoints_none_keeps_all_and_negative_is_refused(tmp_path):
    _fit(tmp_path, epochs=2, keep_checkpoints=None)
    assert len([n for n in os.listdir(tmp_path) if n.startswith("checkpoint-")]) == 3  # steps 4, 8 and 12 (the end)
    with pytest.raises(ValueError, match="keep_checkpoints must be >= 1"):
        _fit(tmp_path, keep_checkpoints=-1)


def test_a_second_fit_on_the_folder_is_refused(saved, tmp_path):
    directory = _copy(saved, tmp_path)
    with open(directory / "fit.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # held as a running fit holds it
        with pytest.raises(fnet.CheckpointError, match="another fit is training with checkpoint_dir"):
            _fit(directory, epochs=2)


def test_fit_removes_dead_writers_temporaries_but_not_a_live_one(saved, tmp_path, reference):
    directory = _copy(saved, tmp_path)
    dead = directory / f"checkpoint-000000008-{_run_of(directory)}.0a1b2c3d.tmp"
    dead.mkdir()
    (dead / "process-00000-of-00001.safetensors").write_bytes(b"half")
    (directory / "latest.json.zz9_abcd.tmp").write_text("{")
    live = directory / "checkpoint-000000099-00000000.livewrtr.tmp"
    live.mkdir()
    with open(live / "process-00001-of-00002.safetensors", "wb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another process still writing its shard
        resumed = _fit(directory, epochs=3)
        assert live.exists()
    assert not dead.exists() and not (directory / "latest.json.zz9_abcd.tmp").exists()
    _same_trees(reference.params, resumed.params)
