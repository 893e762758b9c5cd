
if [ "$DRY_RUN" -eq 1 ]; then
  exit 0
fi
if [ "${#FAILED[@]}" -gt 0 ]; then
  list=""
  for name in "${FAILED[@]}"; do
    list+="${list:+, }$name"
  done
  printf '%d of %d checks failed: %s\n' "${#FAILED[@]}" "$CHECKS" "$list"
  exit 1
fi
printf 'all %d checks passed\n' "$CHECKS"
