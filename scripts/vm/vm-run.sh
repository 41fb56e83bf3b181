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

# bpfsig enforce, as a user runs it (docs/enforce.md): on both kernels (each
# keeps prog->aux->sig) an unsigned `bpftool prog load` is refused and a signed
# light skeleton loads; the log shows both.
case "$kernel" in
  7.2) enforcer=enforcer/enforcer.loader-hash.bpfsig ;;
  *)   enforcer=enforcer/enforcer.bpfsig ;;
esac
cat > enforce-policy.txt <<'POLICY'
policy_name=signed_only policy_version=0.0.1
DEFAULT action=ALLOW
DEFAULT op=BPF_PROG_LOAD action=DENY
op=BPF_PROG_LOAD bpf_kernel=TRUE action=ALLOW
op=BPF_PROG_LOAD bpf_signature=OK action=ALLOW
POLICY
cli_case "enforce/start" bpfsig enforce start -j --policy enforce-policy.txt --enforcer "$enforcer" \
  -i enforcer/enforcer-cert.der
bpftool prog load enforcer/unsigned.bpf.o /sys/fs/bpf/cli_unsigned >/dev/null 2>&1
echo "BPFSIG-RESULT {\"case\":\"cli/enforce/bpftool_prog_load\",\"kernel\":\"$kernel\",\"exit\":$?}"
cli_case "enforce/signed_load" bpfsig load -j -i certs/signer.der "$first"
cli_case "enforce/status" bpfsig enforce status -j
log=$(bpfsig enforce log -j 2>/dev/null | sed 's/$/,/' | tr -d '\n' | sed 's/,$//')
echo "BPFSIG-RESULT {\"case\":\"cli/enforce/log\",\"kernel\":\"$kernel\",\"output\":[$log]}"
cli_case "enforce/stop" bpfsig enforce stop -j
cli_case "enforce/status_after_stop" bpfsig enforce status -j
