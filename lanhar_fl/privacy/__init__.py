"""Privacy for federated LanHAR: sample-level DP-SGD on each phone (Opacus, accountant carried
across rounds), client-level DP (Flower's DP strategy wrappers + Flower's RDP accountant),
SecAgg+ (Flower's legacy path), the DP-safe public negatives, and a membership-inference audit.

``settings`` reads ``cfg.privacy`` (the ``configs/privacy/`` group). Opacus is imported only
inside the functions that use it; ``client_level``, ``public_negatives``, ``reporting`` and
``secagg`` import Flower at module level, the other modules import it lazily or not at all.
"""
