"""scikit-learn's estimator checks on both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skautodec import AutoDecoder, ConvAutoEncoder

FAST = dict(max_epochs=2, transform_max_iter=10, random_state=0)


@parametrize_with_checks(
    [AutoDecoder(latent_dim=2, **FAST), ConvAutoEncoder(latent_dim=2, **FAST)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
