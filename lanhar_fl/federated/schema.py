"""The message schema between the ServerApp and the phones' ClientApp.

Server -> phone (train / evaluate): ``arrays`` (the global sensor-encoder arrays), ``config``
(round settings and the run's configuration as JSON), and, only for a phone that does not hold
the current version yet, the text-side artefacts (frozen text encoder, label bank, public
negatives). Phone -> server: ``arrays`` (train only) and ``metrics`` (scalars only). Nothing else
may leave a phone: see ``lanhar_fl.federated.audit``.
"""

from __future__ import annotations

ARRAYS = "arrays"
CONFIG = "config"
METRICS = "metrics"

TEXT_ENCODER = "text-encoder"  # ArrayRecord: the frozen stage-1 text encoder weights
TEXT_ENCODER_META = "text-encoder-meta"  # ConfigRecord: model config, tokenizer, fingerprint
LABEL_BANK = "label-bank"  # ArrayRecord: prototypes (K, D)
LABEL_BANK_META = "label-bank-meta"  # ConfigRecord: bank JSON (names, descriptions, version)
PUBLIC_NEGATIVES = "public-negatives"  # ArrayRecord: public interpretation embeddings (M, D)
PUBLIC_NEGATIVES_META = "public-negatives-meta"  # ConfigRecord: fingerprint, digest
ARTIFACT_RECORDS = (TEXT_ENCODER, TEXT_ENCODER_META, LABEL_BANK, LABEL_BANK_META,
                    PUBLIC_NEGATIVES, PUBLIC_NEGATIVES_META)

# keys inside CONFIG
RUN_CONFIG = "lanhar-config"  # the composed Hydra config as JSON: one source of truth
ARTIFACT_VERSION = "artifact-version"  # "<encoder digest>:<bank digest>" (sha256 hex)
SERVER_ROUND = "server-round"
PUBLIC_NEGATIVES_VERSION = "public-negatives-version"  # its digest; sample-level DP only

# Error.code of a phone's refusal: the config asked for something outside the phone's own policy
# (client/policy.py); Error.reason names the settings. Flower's own codes are 0-8.
POLICY_REFUSED = 100

# keys inside METRICS (all scalars)
NUM_EXAMPLES = "num-examples"
TRAIN_SECONDS = "train-seconds"  # the phone's own time for a train message (bench simulation)
TRAIN_LOSS = "train-loss"  # the last local epoch's loss
LOCAL_EPOCHS = "local-epochs"
ACCURACY = "accuracy"  # evaluate replies: local zero-shot accuracy
LOSS = "loss"
EPSILON = "epsilon"  # sample-level DP: the phone's cumulative epsilon
DELTA = "delta"
ACC_ONLY = "acc-only"  # fraction of the phone's windows without gyroscope
UNIT_WEIGHT = "unit-weight"  # 1 from every phone: client-level DP averages without weights
NORM_BIT = "norm_bit"  # Flower's adaptive clipping: was the phone's update under the norm
DP_NOISE_MULTIPLIER = "dp-noise-multiplier"
DP_SKIPPED = "dp-skipped"  # 1 when the phone's privacy budget was spent: it did not train
REPLY_METRICS = (NUM_EXAMPLES, TRAIN_LOSS, TRAIN_SECONDS, LOCAL_EPOCHS, ACCURACY, LOSS, EPSILON,
                 DELTA, ACC_ONLY, UNIT_WEIGHT, NORM_BIT, DP_NOISE_MULTIPLIER, DP_SKIPPED)
