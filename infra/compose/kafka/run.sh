#!/bin/bash
# Starts one KRaft broker+controller from KAFKA_* environment variables, as the official image
# documents them: drop the prefix, lower-case, then "___" -> "-", "__" -> "_", "_" -> ".".
# CLUSTER_ID (default: the official image's default) formats the log directories on first start.
set -euo pipefail
config=/opt/kafka/config/server.properties
: > "$config"
skip=" KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_LOG4J_OPTS KAFKA_GC_LOG_OPTS KAFKA_JMX_OPTS KAFKA_HOME KAFKA_VERSION "
while IFS='=' read -r name value; do
    [[ $name == KAFKA_* && $skip != *" $name "* ]] || continue
    key=${name#KAFKA_}
    key=${key,,}
    key=${key//___/-}
    key=${key//__/$'\x01'}
    key=${key//_/.}
    key=${key//$'\x01'/_}
    printf '%s=%s\n' "$key" "$value" >> "$config"
done < <(env)
classpath='/opt/kafka/libs/*'
jvm=(-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp "$classpath")
java "${jvm[@]}" kafka.tools.StorageTool format --ignore-formatted \
    -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$config"
exec java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} -XX:+UseG1GC -Djava.awt.headless=true "${jvm[@]}" \
    kafka.Kafka "$config"
