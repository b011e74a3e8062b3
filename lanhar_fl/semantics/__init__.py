"""Windows -> language: features, interpreters, validation, label-semantic bank, text encoder."""
