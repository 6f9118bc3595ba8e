#!/usr/bin/env bash
# Seed corpora from the shared fixtures (real JSON of other servers; never copied into the repo):
# each activity and FEP-0837 document becomes an input with the flag byte the target expects.
set -euo pipefail
cd "$(dirname "$0")"
fixtures="${TIANGUIS_FIXTURES_DIR:-../../shared/fixtures}"
mkdir -p corpus/inbox_request corpus/proposal_agreement corpus/signature_header
n=0
while IFS= read -r -d '' file; do
  name=$(echo "${file#"$fixtures"/}" | tr '/' '_')
  # 22: shared inbox, Date now, Digest right, a Signature header; 23: the shop's inbox.
  { printf '\x16'; cat "$file"; } > "corpus/inbox_request/$name"
  { printf '\x17'; cat "$file"; } > "corpus/inbox_request/shop_$name"
  n=$((n + 1))
done < <(find "$fixtures" -name '*.json' -print0)
while IFS= read -r -d '' file; do
  name=$(basename "$file")
  { printf '\x00'; cat "$file"; } > "corpus/proposal_agreement/proposal_$name"
  { printf '\x03'; cat "$file"; } > "corpus/proposal_agreement/agreement_$name"
  # The Offer's Agreement alone, as the reader gets it.
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); o=d.get("object"); print(json.dumps(o) if isinstance(o, dict) else "{}")' "$file" |
    { printf '\x03'; cat; } > "corpus/proposal_agreement/object_$name"
done < <(find "$fixtures/fep-0837" -name '*.json' -print0)
printf 'keyId="https://mastodon.example/users/ana#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="c2lnbmF0dXJl"' \
  > corpus/signature_header/mastodon
printf 'Mon, 07 Dec 2026 12:00:00 GMT' > corpus/signature_header/date
echo "seeded $n fixtures"
