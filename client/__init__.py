"""The Flower ClientApp: a phone's local data, on-device interpretation and local training."""
