"""What server/ and client/ share: the message schema, artefact transfer, the privacy audit."""
