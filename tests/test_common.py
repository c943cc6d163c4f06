"""scikit-learn's estimator checks on both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skautodec import AutoDecoder, ConvAutoEncoder

FAST = dict(max_epochs=2, transform_max_iter=10, random_state=0)

# Like skorch, both estimators take module__* and optimizer__* through
# **kwargs and reject any other keyword at once, as Python does for an
# unknown argument; this check passes every name of the signature, the
# catch-all "kwargs" included, as a parameter.
KWARGS = {
    "check_do_not_raise_errors_in_init_or_set_params": (
        "**kwargs takes module__* and optimizer__* only; kwargs=... is a TypeError"
    )
}


@parametrize_with_checks(
    [AutoDecoder(latent_dim=2, **FAST), ConvAutoEncoder(latent_dim=2, **FAST)],
    expected_failed_checks=lambda estimator: KWARGS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
