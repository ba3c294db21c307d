"""Delivery plumbing shared by every service: one way to configure, migrate, publish and consume."""
