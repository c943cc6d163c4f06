"""Metadata routing: ``mask`` travels through Pipeline and GridSearchCV."""

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.masks import random_mask
from skautodec.metrics import masked_reconstruction_scorer

FAST = dict(latent_dim=2, max_epochs=3, transform_max_iter=10, random_state=0)
MODELS = {
    "AutoDecoder": lambda: AutoDecoder(**FAST),
    "ConvAutoEncoder": lambda: ConvAutoEncoder(**FAST),
}


@pytest.fixture(autouse=True)
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.fixture(scope="module")
def mask(X_tab):
    return random_mask(*X_tab.shape, 0.3, random_state=1)


@pytest.mark.parametrize("name", list(MODELS))
def test_request_methods_exist(name):
    model = MODELS[name]()
    for method in ("set_fit_request", "set_transform_request", "set_score_request"):
        assert getattr(model, method)(mask=True) is model
    routing = model.get_metadata_routing()
    for method in ("fit", "transform", "score"):
        assert routing.consumes(method, ["mask"]) == {"mask"}


@pytest.mark.parametrize("name", list(MODELS))
def test_pipeline_routes_mask_to_fit_and_transform(name, X_tab, mask):
    model = MODELS[name]().set_fit_request(mask=True).set_transform_request(mask=True)
    pipe = Pipeline([("model", model), ("scale", StandardScaler())])
    pipe.fit(X_tab, mask=mask)
    direct = MODELS[name]().fit(X_tab, mask=mask)
    Z = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    fitted = pipe.named_steps["model"]
    np.testing.assert_array_equal(
        fitted.inverse_transform(Z), direct.inverse_transform(Z)
    )
    # transform routes the mask too: same as the direct call, not as no mask
    codes = direct.transform(X_tab, mask=mask)
    expected = StandardScaler().fit(codes).transform(codes)
    np.testing.assert_allclose(pipe.transform(X_tab, mask=mask), expected, rtol=1e-5)
    unmasked = MODELS[name]().fit(X_tab)
    assert not np.array_equal(
        unmasked.inverse_transform(Z), fitted.inverse_transform(Z)
    )


def test_pipeline_fit_transform_routes_mask(X_tab, mask):
    model = AutoDecoder(**FAST).set_fit_request(mask=True)
    model.set_transform_request(mask=True)
    Z = Pipeline([("model", model)]).fit_transform(X_tab, mask=mask)
    np.testing.assert_array_equal(
        Z, AutoDecoder(**FAST).fit_transform(X_tab, mask=mask)
    )


def test_pipeline_search_with_routed_mask(X_tab, mask):
    # Pipeline.score cannot route to a score without sample_weight while
    # scikit-learn#30937 is open; a scorer that requests the mask can.
    model = AutoDecoder(**FAST).set_fit_request(mask=True)
    pipe = Pipeline([("scale", StandardScaler()), ("model", model)])
    scorer = masked_reconstruction_scorer(0.3).set_score_request(mask=True)
    search = GridSearchCV(
        pipe, {"model__latent_penalty": [1e-3, 1e-1]}, cv=2, scoring=scorer
    ).fit(X_tab, mask=mask)
    train, test = next(iter(KFold(2).split(X_tab)))
    fold_model = AutoDecoder(**FAST, latent_penalty=1e-3).set_fit_request(mask=True)
    fold = Pipeline([("scale", StandardScaler()), ("model", fold_model)])
    fold.fit(X_tab[train], mask=mask[train])
    expected = scorer(fold, X_tab[test], mask=mask[test])
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(
        expected, rel=1e-6
    )


def test_score_routes_mask_in_cross_validate(X_tab, mask):
    model = AutoDecoder(**FAST).set_fit_request(mask=False)
    model.set_score_request(mask=True)
    result = cross_validate(model, X_tab, cv=KFold(2), params={"mask": mask})
    train, test = next(iter(KFold(2).split(X_tab)))
    fold = AutoDecoder(**FAST).fit(X_tab[train])
    expected = fold.score(X_tab[test], mask=mask[test])
    assert result["test_score"][0] == pytest.approx(expected, rel=1e-6)
    assert expected != pytest.approx(fold.score(X_tab[test]), rel=1e-6)


def test_unrequested_mask_is_an_error(X_tab, mask):
    pipe = Pipeline([("model", AutoDecoder(**FAST))])
    with pytest.raises(ValueError, match="mask"):
        pipe.fit(X_tab, mask=mask)


def _search(model, **kwargs):
    return GridSearchCV(model, {"latent_penalty": [1e-3, 1e-1]}, cv=2, **kwargs)


def test_grid_search_routes_mask_to_fit(X_tab, mask):
    model = AutoDecoder(**FAST).set_fit_request(mask=True)
    model.set_score_request(mask=False)
    search = _search(model).fit(X_tab, mask=mask)
    # the refit best model got the whole mask
    best = AutoDecoder(**FAST, latent_penalty=search.best_params_["latent_penalty"])
    best.fit(X_tab, mask=mask)
    np.testing.assert_array_equal(search.best_estimator_.latents_, best.latents_)
    # and each fold got its rows of it: the fold's model is the direct fit
    train, test = next(iter(KFold(2).split(X_tab)))
    fold = AutoDecoder(**FAST, latent_penalty=1e-3).fit(X_tab[train], mask=mask[train])
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(
        fold.score(X_tab[test]), rel=1e-6
    )
    plain = _search(AutoDecoder(**FAST).set_score_request(mask=False)).fit(X_tab)
    assert not np.array_equal(
        plain.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )


def test_grid_search_routes_shared_mask(X_tab):
    shared = np.array([True, False, False, False, True, False])
    model = AutoDecoder(**FAST).set_fit_request(mask=True)
    model.set_score_request(mask=True)
    search = _search(model).fit(X_tab, mask=shared)
    train, test = next(iter(KFold(2).split(X_tab)))
    fold = AutoDecoder(**FAST, latent_penalty=1e-3).fit(X_tab[train], mask=shared)
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(
        fold.score(X_tab[test], mask=shared), rel=1e-6
    )


def test_scorer_receives_the_fold_mask(X_tab, mask):
    # entries missing per the mask must be neither hidden nor scored
    scorer = masked_reconstruction_scorer(0.3).set_score_request(mask=True)
    model = AutoDecoder(**FAST).set_fit_request(mask=True)
    cv = KFold(2)
    result = cross_validate(model, X_tab, cv=cv, scoring=scorer, params={"mask": mask})
    train, test = next(iter(cv.split(X_tab)))
    fold = AutoDecoder(**FAST).fit(X_tab[train], mask=mask[train])
    expected = scorer(fold, X_tab[test], mask=mask[test])
    assert result["test_score"][0] == pytest.approx(expected, rel=1e-6)
    # the same fold scored as if the mask were unknown differs
    assert scorer(fold, X_tab[test]) != pytest.approx(expected, rel=1e-6)


def test_grid_search_with_scorer_and_routed_mask(X_tab, mask):
    scorer = masked_reconstruction_scorer(0.3).set_score_request(mask=True)
    model = AutoDecoder(**FAST).set_fit_request(mask=True)
    search = _search(model, scoring=scorer).fit(X_tab, mask=mask)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["latent_penalty"] in (1e-3, 1e-1)


def test_scorer_set_score_request_needs_routing():
    with sklearn.config_context(enable_metadata_routing=False):
        with pytest.raises(RuntimeError, match="routing"):
            masked_reconstruction_scorer().set_score_request(mask=True)
