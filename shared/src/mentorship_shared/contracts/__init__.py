"""Contracts between the services: envelope, events, topics and the skill taxonomy."""
