#!/bin/sh
# Create the namespace and register Relay's search attributes (relay/search_attributes.py).
set -eu
temporal operator namespace describe -n default >/dev/null 2>&1 \
  || temporal operator namespace create -n default --retention 30d
for attribute in FanId=Keyword Journey=Keyword JourneyVersion=Int JourneyStep=Keyword \
                 Locale=Keyword Zone=Keyword Status=Keyword; do
  temporal operator search-attribute create -n default \
    --name "${attribute%%=*}" --type "${attribute#*=}" || true
done
