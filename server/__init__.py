"""The Flower ServerApp: text-side artefacts, strategy, server-side evaluation."""
