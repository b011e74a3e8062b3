"""One loader module per dataset, each exposing ``load(root, dataset_cfg) -> list[Recording]``.

Loaders read files in the dataset's official layout and return continuous recordings in the
dataset's native units and rate; ``registry.load_dataset_windows`` preprocesses them. Parsing
shared between loaders (text/gzip tables, label mapping, gap splitting) lives in ``_text``.
"""
