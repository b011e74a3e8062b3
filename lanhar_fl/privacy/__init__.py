"""Privacy for federated LanHAR: sample-level DP-SGD on each phone (Opacus, accountant carried
across rounds), client-level DP (Flower's DP strategy wrappers + Flower's RDP accountant),
SecAgg+ (Flower's legacy path), the DP-safe public negatives, and a membership-inference audit.

``settings`` reads ``cfg.privacy`` (the ``configs/privacy/`` group); every module imports lazily
what it needs from Opacus and Flower.
"""
