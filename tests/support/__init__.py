"""Helpers the test tiers share."""
