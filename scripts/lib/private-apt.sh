# Sourced by scripts that fetch .deb files from other Debian suites
# (trixie, trixie-backports, sid) without changing the system's apt
# configuration: a private sources list, lists directory and package cache
# under a directory of the caller's choosing. The mirror is the one the
# system's own apt sources name; no registry host is written here.
#
#   . scripts/lib/private-apt.sh
#   private_apt_init DIR SUITE...     # writes DIR/sources.list, runs update
#   private_apt_download DIR PKG/SUITE...   # .debs into DIR/debs
#   private_apt_deb DIR PKG           # path of the downloaded .deb of PKG

# The mirror the machine already uses (deb822 or one-line format).
private_apt_mirror() {
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
          /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { echo "private-apt: no Debian mirror in the system's apt sources" >&2; return 1; }
  echo "$uri"
}

# apt-get options that point every state and cache path into DIR.
private_apt_opts() {
  local dir=$1
  PRIVATE_APT_OPTS=(-o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
                    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache"
                    -o Dir::Cache::archives="$dir/archives"
                    -o APT::Sandbox::User=root -o Debug::NoLocking=1 -o Acquire::Retries=3)
}

# private_apt_init DIR SUITE...: the sources list for SUITEs (main) and an update.
private_apt_init() {
  local dir=$1; shift
  local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg suite
  mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/cache" "$dir/debs"
  mirror=$(private_apt_mirror) || return 1
  : > "$dir/sources.list.new"
  for suite in "$@"; do
    echo "deb [signed-by=$keyring] $mirror $suite main" >> "$dir/sources.list.new"
  done
  mv "$dir/sources.list.new" "$dir/sources.list"
  private_apt_opts "$dir"
  apt-get "${PRIVATE_APT_OPTS[@]}" -q update >/dev/null
}

# private_apt_download DIR PKG/SUITE...: download (no install) into DIR/debs.
private_apt_download() {
  local dir=$1; shift
  private_apt_opts "$dir"
  (cd "$dir/debs" && apt-get "${PRIVATE_APT_OPTS[@]}" -q download "$@" >/dev/null)
}

# private_apt_deb DIR PKG: the downloaded .deb of PKG (newest name if several).
private_apt_deb() {
  local dir=$1 pkg=$2
  # Nothing downloaded yet is an empty answer, not a failure (callers run
  # under set -e -o pipefail).
  { ls -1 "$dir"/debs/"${pkg}"_*.deb 2>/dev/null || true; } | sort -V | tail -n 1
}
