"""lanhar-fl: federated, privacy-preserving LanHAR (language-guided human activity recognition)."""

__version__ = "0.1.0"
