"""Minifig Stonks core: settings, models, SQL, sources and use cases.

This package never imports dramatiq, periodiq or apscheduler.
"""
