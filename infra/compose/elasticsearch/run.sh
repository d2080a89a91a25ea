#!/bin/bash
# Every environment variable whose name contains a dot is an Elasticsearch setting, passed as
# -E name=value (the official image's convention, e.g. discovery.type=single-node).
set -euo pipefail
settings=()
while IFS= read -r -d '' entry; do
    name=${entry%%=*}
    [[ $name == *.* ]] && settings+=("-E" "$entry")
done < /proc/self/environ
exec /usr/share/elasticsearch/bin/elasticsearch "${settings[@]}"
