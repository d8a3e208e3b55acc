"""A second linear-probe protocol for a finished ``mcsimclr demo``: does its margin depend on how the probe is fit?

Usage:
    python scripts/probe_protocol_check.py runs/demo-s0 [--seed 0]

The demo's linear probe (``mcsimclr probe --mode linear|random-linear``) trains two linear heads with SGD (momentum,
cosine schedule) on the labelled clips in all 8 ChannelSwap versions and keeps the epoch with the best validation
loss (60 clips). This script fits the same kind of model another way, on the same encoders: the clip embeddings
(mean over 1 s windows, 0.5 s hop, no ChannelSwap copies) of all labelled clips are standardised, the class head is
an L2-regularised multinomial logistic regression (L2 strength chosen by stratified 5-fold cross-validation; fewer
folds when a class has fewer than 5 clips) and the direction head a ridge regression on ``(cos, sin)`` of the
azimuth (strength chosen by leave-one-out cross-validation), both fit on the labelled clips with scikit-learn; the
test clips are never used to choose anything. The random encoder is the demo's (``random_encoder`` with the demo's
seed).

It needs scikit-learn (installed with the test extra, which pulls librosa). It prints, for the pretrained and the
random encoder, accuracy and mean azimuth error on the test clips, and the paired margin with its standard error.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch

from mcsimclr.checkpoint import load_encoder, read_checkpoint
from mcsimclr.data.clip_store import ClipStore
from mcsimclr.metrics import azimuth_error_deg
from mcsimclr.probe.config import ProbeDataConfig
from mcsimclr.probe.embed import embed_clips
from mcsimclr.probe.encoders import random_encoder
from mcsimclr.probe.margin import margin_of


def _fit_and_predict(train_x: np.ndarray, train_label: np.ndarray, train_az: np.ndarray, test_x: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Class and azimuth (deg) predictions for ``test_x`` from models cross-validated on the training rows."""
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV
    from sklearn.preprocessing import StandardScaler

    present = np.bincount(train_label)
    smallest = int(present[present > 0].min())
    if smallest < 2:
        raise SystemExit(f"probe_protocol_check: a class has {smallest} labelled clip; cross-validation needs >= 2")
    folds = min(5, smallest)  # stratified folds: every class in every fold
    scale = StandardScaler().fit(train_x)
    xtr, xte = scale.transform(train_x), scale.transform(test_x)
    with warnings.catch_warnings():  # scikit-learn 1.9 announces new defaults; the values used are set here
        warnings.simplefilter("ignore", FutureWarning)
        classifier = LogisticRegressionCV(Cs=np.logspace(-3, 1, 9), cv=folds, scoring="accuracy",
                                          max_iter=5000).fit(xtr, train_label)
    rad = np.radians(train_az)
    ridge = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(xtr, np.stack([np.cos(rad), np.sin(rad)], axis=1))
    cos_sin = ridge.predict(xte)
    return classifier.predict(xte), np.degrees(np.arctan2(cos_sin[:, 1], cos_sin[:, 0]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo_dir", type=Path, help="output directory of `mcsimclr demo` (data/, pretrain/)")
    parser.add_argument("--seed", type=int, default=0, help="the demo's --seed (initialises the random encoder)")
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        parser.error("needs scikit-learn: pip install -e '.[test]' (librosa brings it) or pip install scikit-learn")
    checkpoint = args.demo_dir / "pretrain" / "checkpoints" / "last.ckpt"
    paths = {split: args.demo_dir / "data" / f"{split}.h5" for split in ("clean_train", "test")}
    for path in (checkpoint, *paths.values()):
        if not path.is_file():
            parser.error(f"{path} not found: give the --out directory of a finished `mcsimclr demo`")
    meta = read_checkpoint(checkpoint)["mcsimclr"]
    encoders = {
        "pretrained": load_encoder(checkpoint),
        "random": random_encoder(features=meta["features"], encoder=meta["encoder"],
                                 mic_offsets=np.asarray(meta["mic_offsets"]), seed=args.seed),
    }
    stores = {split: ClipStore(path, device="cpu", dtype=torch.float32) for split, path in paths.items()}
    windows = ProbeDataConfig()  # the probe's window and hop (1 s, 0.5 s)
    window = round(windows.crop_seconds * stores["test"].sample_rate)
    hop = round(windows.eval_hop_seconds * stores["test"].sample_rate)
    scores = {}
    for name, encoder in encoders.items():
        emb = {split: embed_clips(encoder, store, np.arange(len(store)), window=window, hop=hop)
               for split, store in stores.items()}
        train, test = emb["clean_train"], emb["test"]
        label, azimuth = _fit_and_predict(train.embedding.numpy(), train.label.numpy(),
                                          train.azimuth_deg.numpy(), test.embedding.numpy())
        correct = (label == test.label.numpy()).astype(np.float64)
        error = azimuth_error_deg(torch.from_numpy(azimuth), test.azimuth_deg.double()).numpy()
        scores[name] = np.stack([correct, error], axis=1)
        print(f"{name:10s} accuracy {100 * correct.mean():5.1f} %   azimuth error {error.mean():5.1f} deg")
    margin = margin_of(scores["pretrained"], scores["random"])
    print(f"margin (pretrained - random, paired over {margin.n} test clips, +- one standard error): {margin.text()}")


if __name__ == "__main__":
    main()
