#!/usr/bin/env bash
# Calls Atlassian through threelo with an access key: who you are, your sites, and your open Jira
# issues on the first site that has Jira. Make the key on threelo's /account page ("Access keys").
#
#   THREELO_URL=https://tools.example.com/atl THREELO_KEY=thr_… examples/api_with_key.sh
#
# Needs curl and jq. The key goes in a header only (never in a URL, where logs would keep it), and
# is read from the environment so it does not show in `ps`.
set -euo pipefail

url="${THREELO_URL:?set THREELO_URL to the public URL of threelo, e.g. http://localhost:8080}"
key="${THREELO_KEY:?set THREELO_KEY to an access key made on the account page of threelo}"
url="${url%/}"

api() {
  # --fail-with-body: a refusal's JSON ({"error","message"}) is printed, and the script stops.
  curl --silent --show-error --fail-with-body \
    --header @<(printf 'Authorization: Bearer %s\n' "$key") \
    --header 'Accept: application/json' \
    "$@"
}

echo "== who am I"
api "$url/api/me" | jq '{account_id, name, email}'

echo "== my sites"
sites="$(api "$url/api/oauth/token/accessible-resources")"
jq -r '.[] | "\(.id)  \(.name)  \(.url)"' <<<"$sites"

cloud_id="$(jq -r '[.[] | select(any(.scopes[]; test("jira")))][0].id // empty' <<<"$sites")"
if [ -z "$cloud_id" ]; then
  echo "no site with Jira in this key's grant"
  exit 0
fi

echo "== my open issues on $cloud_id"
api --get "$url/api/ex/jira/$cloud_id/rest/api/3/search/jql" \
  --data-urlencode 'jql=assignee = currentUser() AND resolution = Unresolved ORDER BY updated DESC' \
  --data-urlencode 'fields=summary,status' \
  --data-urlencode 'maxResults=10' |
  jq -r '.issues[] | "\(.key)  [\(.fields.status.name)]  \(.fields.summary)"'
