#!/usr/bin/env bash
# Replace the placeholder `secure:` values of a checked-in stack file with real secrets, before the first preview.
#   bootstrap/replace-placeholder-secrets.sh STACK DIR
# DIR holds one file per secret, named after the key without the namespace (huggingFaceToken, edgeApiKeys, ...).
# The placeholders cannot be decrypted by any secrets provider, and Pulumi decrypts every `secure:` value of the
# stack on each preview, so every one must be replaced. Nothing is changed unless DIR has a file for each of them.
set -euo pipefail
stack="$1"
dir="$2"
cd "$(dirname "$0")/.."
file="Pulumi.$stack.yaml"
# The placeholder ciphertext: base64 of "placeholder"; real ciphertext never starts with it.
placeholder='secure: v1:cGxhY2Vob2xkZXI=:'
keys=$(awk -v p="$placeholder" '/^  [a-zA-Z-]+:[a-zA-Z]+:[[:space:]]*$/ {key=$1; sub(/:$/, "", key)} index($0, p) {print key}' "$file")
missing=()
for key in $keys; do
  [ -f "$dir/${key#*:}" ] || missing+=("$dir/${key#*:} (for $key)")
done
if [ ${#missing[@]} -gt 0 ]; then
  printf 'missing value file: %s\n' "${missing[@]}" >&2
  exit 2
fi
for key in $keys; do
  pulumi config set --secret --stack "$stack" "$key" < "$dir/${key#*:}"
done
if grep -q "$placeholder" "$file"; then
  echo "$file still holds placeholder secrets" >&2
  exit 1
fi
echo "replaced: $(echo $keys)"
