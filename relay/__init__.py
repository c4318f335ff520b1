"""Shared plumbing for Relay: settings, database, the command line."""
