"""Fixture modules shared by several test files, registered for the whole suite."""

pytest_plugins = ["tests.payout_fixtures", "tests.acme_fixtures", "tests.stripe_rig"]
