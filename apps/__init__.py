"""The applications above every layer: the `relay` command, the embedded runner, the journey
simulator and the fan importer."""
