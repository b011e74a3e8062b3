"""Deployment helpers: TLS certificates and SuperNode authentication keys for Flower."""

from .certs import CertsError, CertsPlan, generate

__all__ = ["CertsError", "CertsPlan", "generate"]
