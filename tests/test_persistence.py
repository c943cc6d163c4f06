"""Pickle and joblib round trips, loading a CUDA model without CUDA, training
that continues after loading, and interrupted training."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from skorch.exceptions import DeviceWarning

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.datasets import make_low_rank

TINY = dict(latent_dim=2, channels=2, max_epochs=2, transform_max_iter=5)
ESTIMATORS = {"AutoDecoder": AutoDecoder, "ConvAutoEncoder": ConvAutoEncoder}
names = pytest.mark.parametrize("name", list(ESTIMATORS))


def make(name, **params):
    return ESTIMATORS[name](**{**TINY, "random_state": 0, **params})


def joblib_round_trip(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def pickle_round_trip(est):
    return pickle.loads(pickle.dumps(est))


@pytest.fixture(scope="module")
def X():
    return make_low_rank(n_samples=30, n_features=16, random_state=0)


@pytest.fixture(scope="module")
def mask(X):
    mask = np.zeros(X.shape, dtype=bool)
    mask[::2, 5:9] = True
    return mask


@pytest.fixture(scope="module")
def fitted(X):
    return {name: make(name).fit(X) for name in ESTIMATORS}


@names
@pytest.mark.parametrize("round_trip", [pickle_round_trip, joblib_round_trip])
def test_round_trip_reproduces_outputs_exactly(name, round_trip, X, mask, fitted):
    est = fitted[name]
    Z, Z_masked = est.transform(X), est.transform(X, mask=mask)
    loaded = round_trip(est)
    assert loaded is not est and loaded.net_ is not est.net_
    np.testing.assert_array_equal(loaded.transform(X), Z)
    np.testing.assert_array_equal(loaded.transform(X, mask=mask), Z_masked)
    np.testing.assert_array_equal(loaded.inverse_transform(Z), est.inverse_transform(Z))
    assert loaded.score(X, mask=mask) == est.score(X, mask=mask)
    assert loaded.n_iter_ == est.n_iter_
    np.testing.assert_array_equal(
        loaded.history_[:, "train_loss"], est.history_[:, "train_loss"]
    )


class _NoTensorPickler(pickle.Pickler):
    """Fails on any tensor that reaches plain pickle: only skorch's own state
    (saved with ``torch.save``) is mapped to an available device on load."""

    def reducer_override(self, obj):
        if isinstance(obj, (torch.Tensor, torch.UntypedStorage, torch.TypedStorage)):
            raise AssertionError(
                f"a {type(obj).__name__} of shape {tuple(getattr(obj, 'shape', ()))} "
                "is pickled outside skorch's device-mapped state; a model fitted "
                "on CUDA would not load on a machine without CUDA"
            )
        return NotImplemented


@names
def test_every_tensor_is_pickled_device_mapped(name, fitted):
    # A model fitted on CUDA must load without CUDA: skorch maps the tensors
    # of module_, optimizer_, ... to the CPU, but only those.
    _NoTensorPickler(io.BytesIO()).dump(fitted[name])
    loaded = pickle_round_trip(fitted[name])
    assert isinstance(loaded.net_.module_, torch.nn.Module)
    assert not isinstance(loaded.net_.module, torch.nn.Module)  # built by skorch


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@names
def test_cuda_model_loads_on_cpu_machine(name, X, fitted):
    # skorch stores CUDA tensors with their device; when CUDA is absent at load
    # time it maps them to the CPU and warns. Mark the net as a CUDA net.
    est = pickle_round_trip(fitted[name])
    est.set_params(device="cuda")
    est.net_.device = "cuda"
    data = pickle.dumps(est)
    with pytest.warns(DeviceWarning) as record:
        loaded = pickle.loads(data)
    messages = " ".join(str(w.message) for w in record)
    assert "no CUDA devices are available" in messages
    assert "Setting self.device = cpu" in messages
    assert str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.transform(X), fitted[name].transform(X))
    # Refitting on the missing device is a clear error; on the CPU it works.
    with pytest.raises(ValueError, match="CUDA is not available"):
        loaded.fit(X)
    assert loaded.set_params(device="cpu", max_epochs=1).fit(X).n_iter_ == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@names
def test_cuda_round_trip_matches(name, X):
    est = make(name, device="cuda").fit(X)
    loaded = joblib_round_trip(est)
    assert str(loaded.net_.device).startswith("cuda")
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def _optimizer_state(est):
    state = est.net_.optimizer_.state_dict()["state"]
    return {k: {n: t.clone() for n, t in v.items()} for k, v in state.items()}


@names
def test_training_continues_after_joblib_load(name, X):
    original = make(name).fit(X)
    state = _optimizer_state(original)
    assert state, "the optimizer keeps Adam moments after fit"
    loaded = joblib_round_trip(original)
    loaded_state = _optimizer_state(loaded)
    assert loaded_state.keys() == state.keys()
    for k in state:
        for n in state[k]:
            torch.testing.assert_close(loaded_state[k][n], state[k][n])

    # The loaded copy continues exactly as the original would.
    loaded.set_params(warm_start=True).fit(X)
    original.set_params(warm_start=True).fit(X)
    assert loaded.n_iter_ == original.n_iter_ == 4
    np.testing.assert_array_equal(
        loaded.history_[:, "train_loss"], original.history_[:, "train_loss"]
    )
    np.testing.assert_array_equal(loaded.transform(X), original.transform(X))

    # Dropping the optimizer state would change the continuation.
    reset = joblib_round_trip(make(name).fit(X))
    reset.net_.initialize_optimizer()
    reset.set_params(warm_start=True).fit(X)
    assert reset.n_iter_ == 4
    assert not np.array_equal(
        reset.history_[-1, "train_loss"], original.history_[-1, "train_loss"]
    )


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


@names
def test_keyboard_interrupt_leaves_a_usable_estimator(name, X):
    est = make(name, max_epochs=5, callbacks=[_InterruptAt(2)])
    assert est.fit(X) is est
    assert est.n_iter_ == 2
    Z = est.transform(X)
    assert Z.shape == (30, 2) and np.isfinite(Z).all()
    assert np.isfinite(est.inverse_transform(Z)).all()
    if name == "AutoDecoder":
        assert est.latents_.shape == (30, 2)
    # and it still pickles
    np.testing.assert_array_equal(pickle_round_trip(est).transform(X), Z)
