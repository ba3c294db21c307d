"""Topic names and partition counts.

Every event of one aggregate (a profile, a match, a mentorship) is keyed by its id, so it lands on one
partition and keeps its order. Partition counts bound how many consumer instances share a topic.
"""

from __future__ import annotations

PROFILE_EVENTS = "profile.events"
MATCH_EVENTS = "match.events"
NOTIFICATION_EVENTS = "notification.events"
MENTORSHIP_EVENTS = "mentorship.events"

DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """Where messages that cannot be processed from `topic` are parked with their error."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


def namespaced(topic: str, namespace: str = "") -> str:
    """Prefix a topic with a namespace (tests and shared clusters use one; production uses none)."""
    return f"{namespace}{topic}"


#: Partition count of each topic, used when topics are created explicitly.
TOPIC_PARTITIONS: dict[str, int] = {
    PROFILE_EVENTS: 6,
    MATCH_EVENTS: 6,
    NOTIFICATION_EVENTS: 3,
    MENTORSHIP_EVENTS: 6,
    dead_letter_topic(PROFILE_EVENTS): 1,
    dead_letter_topic(MATCH_EVENTS): 1,
    dead_letter_topic(NOTIFICATION_EVENTS): 1,
    dead_letter_topic(MENTORSHIP_EVENTS): 1,
}


def topic_partitions(namespace: str = "") -> dict[str, int]:
    """`TOPIC_PARTITIONS` with every name namespaced."""
    return {namespaced(name, namespace): count for name, count in TOPIC_PARTITIONS.items()}
