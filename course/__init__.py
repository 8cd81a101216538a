"""nbworkshop's course layer: settings, notebooks, validation, release, roster and the CLI."""
