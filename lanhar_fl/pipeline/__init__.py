"""End-to-end flows that tie data, semantics, models, training and evaluation together."""
