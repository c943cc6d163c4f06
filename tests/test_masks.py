"""skautodec.masks: boolean masks (True = missing) for images and rows."""

import numpy as np
import pytest

from skautodec.masks import block_mask, center_mask, half_mask, mar_mask, random_mask


def _square_bounds(image):
    """Row and column ranges of the True entries of a 2D mask."""
    rows, cols = np.nonzero(image)
    return rows.min(), rows.max(), cols.min(), cols.max()


# ----------------------------------------------------------------- center_mask
@pytest.mark.parametrize(
    "shape, size, top, left",
    [((8, 8), 4, 2, 2), ((8, 8), 3, 2, 2), ((5, 5), 2, 1, 1), ((6, 10), 2, 2, 4)],
)
def test_center_mask_position(shape, size, top, left):
    mask = center_mask(shape, size)
    assert mask.shape == (shape[0] * shape[1],)
    assert mask.dtype == bool
    assert mask.sum() == size * size
    image = mask.reshape(shape)
    assert _square_bounds(image) == (top, top + size - 1, left, left + size - 1)
    assert image[top : top + size, left : left + size].all()


def test_center_mask_is_centered():
    image = center_mask((8, 8), 4).reshape(8, 8)
    np.testing.assert_array_equal(image, image[::-1])
    np.testing.assert_array_equal(image, image[:, ::-1])


def test_center_mask_covers_every_channel():
    mask = center_mask((3, 8, 8), 4)
    assert mask.shape == (3 * 64,)
    channels = mask.reshape(3, 8, 8)
    for c in range(3):
        np.testing.assert_array_equal(channels[c], center_mask((8, 8), 4).reshape(8, 8))


def test_center_mask_hw_equals_one_channel():
    np.testing.assert_array_equal(center_mask((8, 8), 3), center_mask((1, 8, 8), 3))


def test_center_mask_extremes():
    assert not center_mask((8, 8), 0).any()
    assert center_mask((8, 8), 8).all()


@pytest.mark.parametrize("size", [-1, 9])
def test_center_mask_size_errors(size):
    with pytest.raises(ValueError, match="size"):
        center_mask((8, 8), size)


@pytest.mark.parametrize("shape", [(64,), (1, 1, 8, 8), (0, 8), (1, -8, 8)])
def test_image_shape_errors(shape):
    with pytest.raises(ValueError, match="image_shape"):
        center_mask(shape, 2)
    with pytest.raises(ValueError, match="image_shape"):
        half_mask(shape, "top")
    with pytest.raises(ValueError, match="image_shape"):
        block_mask(2, shape, 2)


# ------------------------------------------------------------------- half_mask
@pytest.mark.parametrize(
    "side, expected",
    [
        ("top", np.s_[:3, :]),
        ("bottom", np.s_[4:, :]),
        ("left", np.s_[:, :3]),
        ("right", np.s_[:, 4:]),
    ],
)
def test_half_mask_sides_odd_image(side, expected):
    # a 7x7 image: each half is 3 rows or columns; the middle one stays visible
    image = half_mask((7, 7), side).reshape(7, 7)
    truth = np.zeros((7, 7), dtype=bool)
    truth[expected] = True
    np.testing.assert_array_equal(image, truth)


@pytest.mark.parametrize("side", ["top", "bottom", "left", "right"])
def test_half_mask_hides_half_of_even_image(side):
    mask = half_mask((2, 8, 6), side)
    assert mask.shape == (2 * 8 * 6,)
    assert mask.sum() == mask.size // 2
    channels = mask.reshape(2, 8, 6)
    np.testing.assert_array_equal(channels[0], channels[1])


def test_half_mask_opposite_sides_partition_even_image():
    top, bottom = half_mask((8, 8), "top"), half_mask((8, 8), "bottom")
    assert not (top & bottom).any()
    assert (top | bottom).all()


def test_half_mask_default_is_bottom():
    np.testing.assert_array_equal(half_mask((8, 8)), half_mask((8, 8), "bottom"))


def test_half_mask_side_error():
    with pytest.raises(ValueError, match="side"):
        half_mask((8, 8), "middle")


# ----------------------------------------------------------------- random_mask
def test_random_mask_shape_and_fraction():
    mask = random_mask(200, 50, 0.3, random_state=0)
    assert mask.shape == (200, 50)
    assert mask.dtype == bool
    assert abs(mask.mean() - 0.3) < 0.02


def test_random_mask_extremes():
    assert not random_mask(5, 4, 0.0, random_state=0).any()
    assert random_mask(5, 4, 1.0, random_state=0).all()


def test_random_mask_default_fraction():
    assert abs(random_mask(400, 50, random_state=0).mean() - 0.25) < 0.02


def test_random_mask_determinism():
    a = random_mask(10, 8, 0.5, random_state=3)
    np.testing.assert_array_equal(a, random_mask(10, 8, 0.5, random_state=3))
    assert (a != random_mask(10, 8, 0.5, random_state=4)).any()
    generator = np.random.RandomState(3)
    np.testing.assert_array_equal(a, random_mask(10, 8, 0.5, random_state=generator))
    # a generator advances: the next draw differs
    assert (a != random_mask(10, 8, 0.5, random_state=generator)).any()


@pytest.mark.parametrize("fraction", [-0.1, 1.5, np.nan])
def test_random_mask_fraction_errors(fraction):
    with pytest.raises(ValueError, match="missing_fraction"):
        random_mask(4, 4, fraction)


# ------------------------------------------------------------------ block_mask
def test_block_mask_one_square_per_image():
    mask = block_mask(20, (8, 8), 3, random_state=0)
    assert mask.shape == (20, 64)
    assert mask.dtype == bool
    assert (mask.sum(axis=1) == 9).all()
    for row in mask:
        top, bottom, left, right = _square_bounds(row.reshape(8, 8))
        assert (bottom - top, right - left) == (2, 2)  # one contiguous 3x3 square


def test_block_mask_places_vary():
    mask = block_mask(30, (8, 8), 2, random_state=0)
    assert len({row.tobytes() for row in mask}) > 1


def test_block_mask_covers_every_channel():
    mask = block_mask(5, (3, 6, 6), 2, random_state=0).reshape(5, 3, 6, 6)
    assert (mask.sum(axis=(1, 2, 3)) == 3 * 4).all()
    np.testing.assert_array_equal(mask[:, 0], mask[:, 1])
    np.testing.assert_array_equal(mask[:, 0], mask[:, 2])


def test_block_mask_several_blocks():
    mask = block_mask(50, (8, 8), 2, n_blocks=3, random_state=0)
    counts = mask.sum(axis=1)
    assert counts.min() >= 4  # blocks may overlap
    assert counts.max() <= 12
    assert (counts > 4).any()


def test_block_mask_extremes():
    assert not block_mask(4, (8, 8), 2, n_blocks=0, random_state=0).any()
    assert not block_mask(4, (8, 8), 0, random_state=0).any()
    assert block_mask(4, (8, 8), 8, random_state=0).all()


def test_block_mask_hw_equals_one_channel():
    np.testing.assert_array_equal(
        block_mask(6, (8, 8), 3, random_state=1),
        block_mask(6, (1, 8, 8), 3, random_state=1),
    )


def test_block_mask_determinism():
    a = block_mask(10, (8, 8), 3, n_blocks=2, random_state=5)
    np.testing.assert_array_equal(
        a, block_mask(10, (8, 8), 3, n_blocks=2, random_state=5)
    )
    assert (a != block_mask(10, (8, 8), 3, n_blocks=2, random_state=6)).any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=9), "size"),
        (dict(size=-1), "size"),
        (dict(size=2, n_blocks=-1), "n_blocks"),
    ],
)
def test_block_mask_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        block_mask(3, (8, 8), **kwargs)


# Input validation added by the masks.py patch.
@pytest.mark.parametrize("size", [2.5, True, "2"])
def test_size_must_be_an_integer(size):
    with pytest.raises(ValueError, match="size must be an integer"):
        center_mask((8, 8), size)
    with pytest.raises(ValueError, match="size must be an integer"):
        block_mask(2, (8, 8), size)


@pytest.mark.parametrize("shape", [8, (8.5, 8), (8, True), None])
def test_image_shape_must_be_integers(shape):
    with pytest.raises(ValueError, match="image_shape"):
        center_mask(shape, 2)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: random_mask(-1, 3), "n_samples"),
        (lambda: random_mask(3, 2.0), "n_features"),
        (lambda: block_mask(-1, (4, 4), 2), "n_samples"),
        (lambda: block_mask(3, (4, 4), 2, n_blocks=1.5), "n_blocks"),
    ],
)
def test_counts_must_be_non_negative_integers(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -------------------------------------------------------------------- mar_mask
@pytest.fixture(scope="module")
def X_mar():
    return np.random.RandomState(0).normal(size=(400, 10))


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.6])
def test_mar_mask_fraction_and_observed_columns(X_mar, fraction):
    mask = mar_mask(X_mar, fraction, random_state=0)
    assert mask.shape == X_mar.shape
    assert mask.dtype == bool
    assert abs(mask.mean() - fraction) < 0.03
    assert (~mask.any(axis=0)).sum() == 3  # round(0.3 * 10) columns never hidden


def test_mar_mask_depends_on_observed_columns(X_mar):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    def auc(hidden):
        # how well the always-observed columns predict a column's missingness
        clf = LogisticRegression().fit(X_mar[:, drivers], hidden)
        return roc_auc_score(hidden, clf.decision_function(X_mar[:, drivers]))

    mask = mar_mask(X_mar, 0.3, random_state=0)
    drivers = ~mask.any(axis=0)
    column = np.flatnonzero(~drivers)[0]
    assert auc(mask[:, column]) > 0.8
    # under MCAR the same columns predict nothing
    assert auc(random_mask(*X_mar.shape, 0.3, random_state=0)[:, column]) < 0.65


def test_mar_mask_extremes_and_input_untouched(X_mar):
    before = X_mar.copy()
    assert not mar_mask(X_mar, 0.0, random_state=0).any()
    full = mar_mask(X_mar, 0.7, random_state=0)  # every hideable column
    assert full.mean() == 0.7
    np.testing.assert_array_equal(X_mar, before)


def test_mar_mask_determinism(X_mar):
    a = mar_mask(X_mar, 0.3, random_state=1)
    np.testing.assert_array_equal(a, mar_mask(X_mar, 0.3, random_state=1))
    assert (a != mar_mask(X_mar, 0.3, random_state=2)).any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(missing_fraction=-0.1), "missing_fraction"),
        (dict(missing_fraction=1.5), "missing_fraction"),
        (dict(missing_fraction=0.8), "share of columns"),
        (dict(observed_fraction=0.0), "observed_fraction"),
        (dict(observed_fraction=1.0), "observed_fraction"),
    ],
)
def test_mar_mask_parameter_errors(X_mar, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mar_mask(X_mar, **kwargs)


def test_mar_mask_data_errors(X_mar):
    with pytest.raises(ValueError, match="at least 2 columns"):
        mar_mask(X_mar[:, :1], 0.1)
    X_nan = X_mar.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mar_mask(X_nan, 0.1)
