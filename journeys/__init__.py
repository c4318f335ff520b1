"""Journeys as code: step vocabulary, the journeys themselves, and the message library.

Nothing here imports Temporal: product owners read and write this package.
"""
