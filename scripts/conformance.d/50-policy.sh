# Policy and local-development artifacts, fed to their consumers' own schemas: the Compose
# Specification (as vendored by check-jsonschema) for every compose file, and Falco's rules-file
# schema for every Falco rules file. The Rego policies are evaluated by regorus in `cargo test`.
# Sourced by scripts/conformance.sh, which provides $OUT, $ROOT and `check`.

for f in "$OUT"/*/compose/*.yaml; do
  [ -e "$f" ] || continue
  check "compose-spec ${f#"$OUT"/}" check-jsonschema --builtin-schema vendor.compose-spec "$f"
done

for f in "$OUT"/*/falco/*.yaml; do
  [ -e "$f" ] || continue
  check "falco rules schema ${f#"$OUT"/}" \
    check-jsonschema --schemafile "$ROOT/schema/external/falco-rules.schema.json" "$f"
done
