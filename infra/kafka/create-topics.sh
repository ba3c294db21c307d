#!/usr/bin/env bash
# Creates the topics of the mentorship services on the Compose stack's Kafka broker, each with
# its partition count and its retention settings. docker-compose.yml runs it in the one-shot
# `kafka-init` container (the apache/kafka image, for its CLI tools) before any service starts;
# the services run with KAFKA_CREATE_TOPICS=false and leave topic creation to this script.
#
# Safe to run again at any time, e.g. after editing the table below:
#
#     docker compose run --rm kafka-init
#
# A topic that exists keeps its partition count: adding partitions would send keys to other
# partitions and break the per-profile and per-match order, so a difference is reported, not
# changed. Its configs are brought to the values below.
set -euo pipefail

bootstrap="${BOOTSTRAP_SERVER:-kafka:9092}"
replication_factor="${TOPIC_REPLICATION_FACTOR:-1}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"

# Partition counts must equal TOPIC_PARTITIONS in
# shared/src/mentorship_shared/contracts/topics.py (tests/unit/test_deployment_files.py checks).
#
# profile.events is compacted, not expired: every event is keyed by the profile id and carries
# the whole profile (or is a ProfileDeleted without personal data), so the latest event of each
# profile is its current state. The matching and notification services build their copies of
# the profiles from this topic; compaction lets a new consumer group or a rebuilt database
# replay it completely, while the personal data of a deleted profile leaves the log once its
# older events are compacted away: segments roll daily and are compacted within 7 days.
# The other topics are consumed as they arrive: match and mentorship events are kept for 30
# days, notification events for 7; the dead-letter topics keep failed events 14 days for an operator to look at.
#
#  topic                     partitions  configs
topics='
   profile.events            6           cleanup.policy=compact,segment.ms=86400000,max.compaction.lag.ms=604800000
   match.events              6           cleanup.policy=delete,retention.ms=2592000000
   notification.events       3           cleanup.policy=delete,retention.ms=604800000
   mentorship.events         6           cleanup.policy=delete,retention.ms=2592000000
   profile.events.dlq        1           cleanup.policy=delete,retention.ms=1209600000
   match.events.dlq          1           cleanup.policy=delete,retention.ms=1209600000
   notification.events.dlq   1           cleanup.policy=delete,retention.ms=1209600000
   mentorship.events.dlq     1           cleanup.policy=delete,retention.ms=1209600000
'

kafka_topics() { "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" "$@"; }

# The summary line of a topic in `--describe` output:
#   Topic: <name>  TopicId: <id>  PartitionCount: <n>  ReplicationFactor: <r>  Configs: <k=v,...>
summary_of() {
    awk -v topic="$1" '$1 == "Topic:" && $2 == topic && /PartitionCount:/' <<<"$described"
}

partition_count_of() {
    awk '{ for (i = 1; i < NF; i++) if ($i == "PartitionCount:") print $(i + 1) }' <<<"$1"
}

# The configs of the table that the summary line does not show with the same value.
configs_to_change() {  # configs_to_change <summary line> <k=v,k=v,...>
    local summary="$1" wanted="$2" setting
    local -a settings
    IFS=',' read -r -a settings <<<"$wanted"
    for setting in "${settings[@]}"; do
        # Configs are listed as "Configs: k=v,k=v": match k=v between a delimiter and another.
        if ! grep -Eq "(Configs:[[:space:]]*|,)${setting//./\\.}(,|[[:space:]]|$)" <<<"$summary"; then
            printf '%s\n' "$setting"
        fi
    done
}

echo "kafka-init: waiting for the broker at $bootstrap"
for attempt in $(seq 1 30); do
    if kafka_topics --list >/dev/null 2>&1; then
        break
    fi
    if [[ $attempt == 30 ]]; then
        echo "kafka-init: the broker at $bootstrap did not answer" >&2
        exit 1
    fi
    sleep 2
done

described="$(kafka_topics --describe --exclude-internal)"
mismatches=0

while read -r topic partitions configs; do
    [[ -z "$topic" ]] && continue
    summary="$(summary_of "$topic")"
    if [[ -z "$summary" ]]; then
        echo "kafka-init: creating $topic ($partitions partitions, $configs)"
        config_args=()
        IFS=',' read -r -a settings <<<"$configs"
        for setting in "${settings[@]}"; do
            config_args+=(--config "$setting")
        done
        kafka_topics --create --if-not-exists --topic "$topic" --partitions "$partitions" \
            --replication-factor "$replication_factor" "${config_args[@]}"
        continue
    fi
    current_partitions="$(partition_count_of "$summary")"
    if [[ "$current_partitions" != "$partitions" ]]; then
        echo "kafka-init: WARNING: $topic has $current_partitions partitions, the services" \
            "expect $partitions; left as it is (see the top of create-topics.sh)" >&2
        mismatches=$((mismatches + 1))
    fi
    mapfile -t change_list < <(configs_to_change "$summary" "$configs")
    if ((${#change_list[@]} > 0)); then
        changes="$(IFS=','; printf '%s' "${change_list[*]}")"
        echo "kafka-init: setting $changes on $topic"
        "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter \
            --entity-type topics --entity-name "$topic" --add-config "$changes"
    fi
done <<<"$topics"

echo "kafka-init: topics now:"
kafka_topics --describe --exclude-internal | awk '/PartitionCount:/'
if ((mismatches > 0)); then
    echo "kafka-init: $mismatches topic(s) differ from the expected partition count" >&2
fi
echo "kafka-init: done"
