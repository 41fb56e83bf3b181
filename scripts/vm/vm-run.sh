# /payload/run.sh inside the VM (scripts/vm/run-suite.sh puts it there).
# The runner prints one BPFSIG-RESULT line per case; the bpfsig command's own
# cases follow, each its JSON output on one line.
cd /payload
bpfsig_vm_runner /payload
kernel=$(cat kernel)
case "$kernel" in
  7.2) scheme=loader-hash; other=loadtime ;;
  *)   scheme=loadtime; other=loader-hash ;;
esac
cli_case() {
  name=$1; shift
  out=$("$@" 2>/dev/null | tr -d '\n')
  rc=$?
  [ -n "$out" ] || out=null
  echo "BPFSIG-RESULT {\"case\":\"cli/$name\",\"kernel\":\"$kernel\",\"output\":$out}"
}
for bundle in bundles/*.$scheme.bundle; do
  example=$(basename "$bundle" ".$scheme.bundle")
  cli_case "$example/load" bpfsig load -j -i certs/signer.der "$bundle"
done
first=$(ls bundles/*.$scheme.bundle | head -n 1)
cli_case "no_anchor" bpfsig load -j "$first"
cli_case "other_scheme" bpfsig load -j -i certs/signer.der "${first%.$scheme.bundle}.$other.bundle"
cli_case "verifier_log" bpfsig load -j --verifier-log=1 -i certs/signer.der "$first"
