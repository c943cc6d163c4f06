"""Run by tests/test_accelerate.py, as one process or under torchrun.

Every process fits an AutoDecoder and a ConvAutoEncoder through accelerate
on the same tiny data and saves what the test compares to
``OUT/rank<process index>.npz``.
"""

import argparse
import pickle

import numpy as np
import torch


def _flat(module):
    return torch.cat([p.detach().cpu().reshape(-1) for p in module.parameters()])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from accelerate import Accelerator
    from sklearn.base import clone

    from skautodec import AutoDecoder, ConvAutoEncoder
    from skautodec.datasets import make_low_rank

    accelerator = Accelerator(cpu=True)
    X = make_low_rank(n_samples=48, n_features=6, random_state=0)
    common = dict(
        latent_dim=2,
        channels=4,
        max_epochs=6,
        batch_size=args.batch_size,
        lr=1e-2,
        transform_max_iter=5,
        accelerator=accelerator,
        random_state=0,
    )
    ad = AutoDecoder(n_init=1, n_neighbors=3, **common).fit(X)
    ae = ConvAutoEncoder(**common).fit(X)

    # the fitted model pickles, loads and transforms; the estimator clones
    loaded = pickle.loads(pickle.dumps(ad))
    clone(ad)
    with open(f"{args.out}/ad{accelerator.process_index}.pkl", "wb") as f:
        pickle.dump(ad, f)
    ad_loss = ad.history_[:, "train_loss"]
    # warm start: two more epochs, still in step across processes
    ad.set_params(warm_start=True, max_epochs=2).fit(X)
    np.savez(
        f"{args.out}/rank{accelerator.process_index}.npz",
        n_processes=accelerator.num_processes,
        ad_loss=ad_loss,
        warm_loss=ad.history_[:, "train_loss"],
        latents=ad.latents_,
        init=ad.net_.get_params_for("latents")["init"],
        decoder=_flat(ad.net_.module_).numpy(),
        Z=loaded.transform(X[:5]),
        ae_loss=ae.history_[:, "train_loss"],
        ae_weights=_flat(ae.net_.module_).numpy(),
    )


if __name__ == "__main__":
    main()
