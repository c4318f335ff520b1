"""Adapters over the providers' official SDKs, with errors classified once, here."""
