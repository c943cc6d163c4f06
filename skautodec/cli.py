"""The ``skautodec`` command: ``skautodec compare`` runs the reference study.

It trains the study's models (see :func:`skautodec.report.fit_study`), scores
them on test images with a centered hole of each size, and writes
``results.csv``, PNG figures and a ``report.md`` into ``--out``.
"""

import argparse
import os
import shlex
import sys
import time
import warnings

import numpy as np

__all__ = ["main"]

_DEFAULTS = {
    "digits": {
        "n_train": None,  # all images left after the test split
        "n_test": 360,
        "max_epochs": 30,
        "mask_sizes": "2,3,4,5",
        "latent_dim": 16,
    },
    "mnist": {
        "n_train": 10_000,
        "n_test": 1_000,
        "max_epochs": 50,
        "mask_sizes": "8,12,16,20",
        "latent_dim": 64,
    },
}
_DEFAULTS["fashion-mnist"] = _DEFAULTS["mnist"]
_SPREAD_SAMPLES = 20  # draws behind the sample_spread figure

_FIGURES = {
    "masked_reconstructions": "Inpainting: original, observed part (hidden "
    "entries in red) and each model's output, one row per hole size.",
    "sample_spread": "Completions of the hole of size {size} in the first "
    "test images, drawn by the autodecoder (`AutoDecoder.sample`, {n_samples} "
    "draws): original, observed part (hidden entries in red), the mean of the "
    "draws, three single draws and the per-pixel standard deviation of the "
    "draws. Observed pixels are the same in every draw (standard deviation "
    "zero); bright pixels are where the model is unsure of the hole.",
    "error_vs_hole_size": "MSE on the hidden entries against the hole size.",
    "interpolation": "Decoded codes between pairs of test images, linear and "
    "spherical (slerp), alpha in {0, .25, .5, .75, 1}.",
    "progressive_reconstructions": "Decoded codes of training images while "
    "the autodecoder trains.",
    "latent_tsne": "t-SNE of the training codes, coloured by label.",
    "training_curves": "Training loss per epoch (scaled units).",
}


def _sizes(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas, e.g. 2,3,4; got {text!r}"
        )
    return sizes


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _non_negative(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer; got {text!r}"
        )
    return value


def _weight(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1]; got {text!r}")
    return value


def _device(text):
    from ._nets import check_device

    try:
        return check_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_data_arguments(p):
    p.add_argument(
        "--dataset",
        choices=sorted(_DEFAULTS),
        default="digits",
        help="digits (bundled with scikit-learn, the default), mnist or "
        "fashion-mnist (padded to 32x32)",
    )
    p.add_argument(
        "--data-home",
        default=None,
        help="folder with MNIST/raw or FashionMNIST/raw "
        "(default: $SKAUTODEC_DATA or ~/skautodec_data)",
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="download MNIST / Fashion-MNIST with torchvision when missing",
    )
    p.add_argument(
        "--n-train",
        type=_positive,
        default=None,
        help="training images (digits: all but the test images; mnist: 10000)",
    )
    p.add_argument(
        "--n-test",
        type=_positive,
        default=None,
        help="test images (digits: 360; mnist: 1000)",
    )
    p.add_argument(
        "--mask-sizes",
        type=_sizes,
        default=None,
        help="sides of the centered holes, comma separated "
        "(digits: 2,3,4,5; mnist: 8,12,16,20)",
    )


def _add_model_arguments(p):
    p.add_argument(
        "--max-epochs",
        type=_positive,
        default=None,
        help="training epochs of each network (digits: 30; mnist: 50)",
    )
    p.add_argument(
        "--latent-dim",
        type=_positive,
        default=None,
        help="size of the codes (digits: 16; mnist: 64)",
    )
    p.add_argument(
        "--transform-max-iter",
        type=_non_negative,
        default=None,
        help="Adam steps fitting a test code (autodecoder; default: "
        "AutoDecoder's) or refining one (autoencoder + refinement; default 100)",
    )
    p.add_argument(
        "--n-init",
        type=_positive,
        default=None,
        help="starts per test code of the autodecoder (default: AutoDecoder's)",
    )
    p.add_argument(
        "--transform-init",
        choices=["auto", "encoder", "nearest", "zeros"],
        default=None,
        help="starts of the autodecoder's test codes (default: AutoDecoder's)",
    )
    p.add_argument(
        "--neighbor-weight",
        type=_weight,
        default=None,
        help="weight of the closest training rows' unfitted decodes in the "
        "autodecoder's hole (default: AutoDecoder's)",
    )
    p.add_argument(
        "--channels",
        type=_positive,
        default=32,
        help="width of the networks (default 32)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive,
        default=64,
        help="training batch size (default 64)",
    )


def _add_run_arguments(p):
    p.add_argument(
        "--device", type=_device, default="cpu", help="torch device, e.g. cuda"
    )
    p.add_argument(
        "--threads",
        type=_positive,
        default=None,
        help="torch CPU threads (default: torch's choice)",
    )
    p.add_argument(
        "--random-state",
        type=_non_negative,
        default=0,
        help="seed of the split and the models (default 0)",
    )
    p.add_argument(
        "--out",
        default="skautodec-compare",
        help="output folder (default ./skautodec-compare)",
    )
    p.add_argument(
        "--ablations",
        action="store_true",
        help="also score the autodecoder with one start, with zero-started "
        "codes, with its fitted codes only and with its unfitted neighbours "
        "only, to show what its test-time defaults buy",
    )
    p.add_argument(
        "--inverse",
        action="store_true",
        help="also rebuild the test images from measurements (compressed "
        "sensing, super-resolution, deblurring) against Lasso and PCA: "
        "inverse.csv, inverse_problems.png and a report section",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _parser():
    parser = argparse.ArgumentParser(
        prog="skautodec",
        description="Autodecoders and autoencoders as scikit-learn estimators.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "compare",
        help="run the inpainting study and write a table, figures and a report",
        description=(
            "Train a ConvAutoEncoder (fed masked images; trained with each "
            "mask; with refined codes), an AutoDecoder and baselines (mean "
            "image, KNN imputer, PCA), then score them on test images with a "
            "centered square hole of each size. Writes results.csv, PNG "
            "figures and report.md into --out."
        ),
    )
    _add_data_arguments(p)
    _add_model_arguments(p)
    _add_run_arguments(p)
    return parser


def _load(args):
    from sklearn.model_selection import train_test_split

    from .datasets import load_digits_images, load_fashion_mnist, load_mnist

    if args.dataset == "digits":
        data = load_digits_images()
        n_total = len(data.data)
        if args.n_test >= n_total:
            raise ValueError(f"--n-test must be below {n_total} for digits.")
        n_train = args.n_train or n_total - args.n_test
        if n_train + args.n_test > n_total:
            raise ValueError(
                f"--n-train + --n-test must be at most {n_total} for digits."
            )
        X_train, X_test, y_train, y_test = train_test_split(
            data.data,
            data.target,
            train_size=n_train,
            test_size=args.n_test,
            random_state=args.random_state,
            stratify=None,
        )
        return X_train, y_train, X_test, y_test, data.image_shape
    loader = load_mnist if args.dataset == "mnist" else load_fashion_mnist
    kwargs = {"data_home": args.data_home, "download": args.download}
    train = loader(train=True, n_samples=args.n_train, **kwargs)
    test = loader(train=False, n_samples=args.n_test, **kwargs)
    return train.data, train.target, test.data, test.target, train.image_shape


def _epoch_schedule(max_epochs, n=6):
    """About ``n`` snapshot epochs, spaced geometrically, ending at the last."""
    epochs = np.unique(np.geomspace(1, max_epochs, n).round().astype(int))
    return [0, *(int(e) for e in epochs)]


def _save(fig, path):
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _write_report(path, command, args, results, figures, seconds, shapes, ad, extra):
    from .report import to_markdown, wide_table

    n_train, n_test, image_shape = shapes

    def table(metric):
        return wide_table(results, metric).rename_axis("hole size")

    lines = [
        "# skautodec compare",
        "",
        f"Command: `{command}`",
        "",
        f"Dataset: {args.dataset}, {n_train} training and {n_test} test images "
        f"of shape {tuple(image_shape)}; latent_dim={args.latent_dim}, "
        f"max_epochs={args.max_epochs}, transform_init={ad.transform_init_}, "
        f"transform_max_iter={ad.transform_max_iter_}, n_init={ad.n_init_}, "
        f"n_neighbors={ad.n_neighbors_}, neighbor_weight={ad.neighbor_weight_:g}, "
        f"neighbor_source={ad.neighbor_source_}, device={args.device}, "
        f"random_state={args.random_state}. Wall time {seconds:.0f} s.",
        "",
        "A centered square hole of each size is hidden from every test image. "
        "Baselines keep the observed pixels and fill the hole; the networks "
        "output every pixel.",
        "",
        "## MSE on the hidden pixels (lower is better)",
        "",
        to_markdown(table("mse_hidden")),
        "",
        "## PSNR on the hidden pixels (dB, higher is better)",
        "",
        to_markdown(table("psnr_hidden"), floatfmt=".2f"),
        "",
        "## MSE on the observed pixels",
        "",
        to_markdown(table("mse_observed")),
        "",
        "## Seconds to fit and to reconstruct the test images",
        "",
        to_markdown(
            results.groupby("model", sort=False)[
                ["fit_seconds", "transform_seconds"]
            ].mean(),
            floatfmt=".3g",
        ),
        "",
        "All rows: `results.csv`.",
        "",
        *extra,
        "## Figures",
        "",
    ]
    for name, caption in figures.items():
        lines += [
            f"### {name.replace('_', ' ')}",
            "",
            caption,
            "",
            f"![{name}]({name}.png)",
            "",
        ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _ablations(autodecoder):
    """Copies of the fitted autodecoder, each with one test-time default
    changed (the fitted networks are shared; only settings differ)."""
    from .report import with_refinement

    keep = autodecoder.transform_max_iter
    return {
        "autodecoder: 1 start": with_refinement(
            autodecoder, transform_max_iter=keep, n_init=1
        ),
        "autodecoder: zeros init": with_refinement(
            autodecoder, transform_max_iter=keep, transform_init="zeros"
        ),
        "autodecoder: fitted codes only": with_refinement(
            autodecoder, transform_max_iter=keep, neighbor_weight=0.0
        ),
        "autodecoder: neighbours only": with_refinement(
            autodecoder, transform_max_iter=keep, neighbor_weight=1.0
        ),
    }


def _fit_models(args, X_train, masks):
    """The study's fitted models by name, and their training seconds."""
    from . import AutoDecoder, ConvAutoEncoder
    from .callbacks import ProgressiveReconstructions
    from .report import fit_study

    common = {
        "latent_dim": args.latent_dim,
        "channels": args.channels,
        "max_epochs": args.max_epochs,
        "batch_size": args.batch_size,
        "device": args.device,
        "random_state": args.random_state,
    }
    names = ("n_init", "neighbor_weight", "transform_max_iter", "transform_init")
    extra = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    follow = list(range(min(8, len(X_train))))
    autodecoder = AutoDecoder(
        **extra,
        callbacks=[
            ProgressiveReconstructions(
                sample_indices=follow, epochs=_epoch_schedule(args.max_epochs)
            )
        ],
        **common,
    )
    study = fit_study(
        X_train,
        masks,
        autoencoder=ConvAutoEncoder(**common),
        autodecoder=autodecoder,
        refine_max_iter=100
        if args.transform_max_iter is None
        else args.transform_max_iter,
        progress=not args.quiet,
    )
    models = study.models
    if args.ablations:
        models.update(_ablations(models["autodecoder"]))
    return models, study.fit_seconds


def _figure(name, args, models, data, masks, results):
    """The figure ``name`` of :data:`_FIGURES`."""
    from . import plotting
    from .report import STUDY_MODELS

    X_train, y_train, X_test, _, image_shape = data
    ad = models["autodecoder"]
    if name == "masked_reconstructions":
        networks = [
            n for n in STUDY_MODELS if n in models and n != "autoencoder + refinement"
        ]
        return plotting.plot_masked_reconstructions(
            {n: models[n] for n in networks}, X_test, masks, image_shape=image_shape
        )
    if name == "sample_spread":
        return plotting.plot_sample_spread(
            ad,
            X_test,
            masks[_spread_size(masks)],
            image_shape=image_shape,
            n_images=6,
            n_samples=_SPREAD_SAMPLES,
            random_state=args.random_state,
        )
    if name == "error_vs_hole_size":
        return plotting.plot_error_vs_hole_size(results)
    pair = {n: models[n] for n in ("autoencoder", "autodecoder")}
    if name == "interpolation":
        n_pairs = min(4, len(X_test) // 2)
        return plotting.plot_interpolations(
            pair,
            X_test[:n_pairs],
            X_test[n_pairs : 2 * n_pairs],
            image_shape=image_shape,
        )
    if name == "progressive_reconstructions":
        return plotting.plot_progressive_reconstructions(
            ad, X=X_train, image_shape=image_shape
        )
    if name == "latent_tsne":
        n_tsne = min(len(X_train), 1000)
        codes = {
            "autoencoder": models["autoencoder"].transform(X_train[:n_tsne]),
            "autodecoder": ad.latents_[:n_tsne],
        }
        return plotting.plot_latent_tsne(
            codes, y_train[:n_tsne], random_state=args.random_state
        )
    return plotting.plot_training_curves(pair)


def _spread_size(masks):
    return list(masks)[len(masks) // 2]  # the middle hole size


def _compare(args, command, data, masks, start):
    import matplotlib

    matplotlib.use("Agg")

    from .report import compare, wide_table

    progress = not args.quiet
    X_train, _, X_test, _, image_shape = data
    models, fit_seconds = _fit_models(args, X_train, masks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rows with no observed entry
        results = compare(
            models, X_test, masks, fit_seconds=fit_seconds, progress=progress
        )
    results.insert(0, "dataset", args.dataset)
    results.to_csv(os.path.join(args.out, "results.csv"), index=False)

    steps = list(_FIGURES)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="figures")
    for name in steps:
        fig = _figure(name, args, models, data, masks, results)
        _save(fig, os.path.join(args.out, f"{name}.png"))
    figures = dict(_FIGURES)
    figures["sample_spread"] = figures["sample_spread"].format(
        size=_spread_size(masks), n_samples=_SPREAD_SAMPLES
    )
    inverse = []
    if args.inverse:
        from ._inverse_study import write_inverse_study

        networks = {k: models[k] for k in ("autoencoder", "autodecoder")}
        inverse = write_inverse_study(
            networks, X_train, X_test, image_shape, args.out, progress
        )
    seconds = time.perf_counter() - start
    _write_report(
        os.path.join(args.out, "report.md"),
        command,
        args,
        results,
        figures,
        seconds,
        (len(X_train), len(X_test), image_shape),
        models["autodecoder"],
        inverse,
    )
    print(wide_table(results, "mse_hidden").to_string(float_format="%.4f"))
    print(
        f"\nWrote {args.out}/results.csv, report.md and {len(_FIGURES)} figures "
        f"in {seconds:.0f} s."
    )


def main(argv=None):
    """Run the ``skautodec`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 on bad input or missing data.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    defaults = _DEFAULTS[args.dataset]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, _sizes(value) if key == "mask_sizes" else value)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        parser.error("compare needs matplotlib: pip install matplotlib")
    command = shlex.join(["skautodec", *(sys.argv[1:] if argv is None else argv)])
    start = time.perf_counter()
    try:
        from .masks import center_mask

        data = _load(args)
        masks = {s: center_mask(data[-1], s) for s in args.mask_sizes}
        os.makedirs(args.out, exist_ok=True)
    except (OSError, ValueError) as exc:
        print(f"skautodec compare: error: {exc}", file=sys.stderr)
        return 2
    _compare(args, command, data, masks, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
