"""One module per ``lanhar-fl`` subcommand; each exposes a function taking the composed config."""
