# Sourced by deps.sh and test-tools.sh: fetching pinned files from Debian's
# archive without touching the machine's own apt setup. The caller defines
# die() and say().

fm_mirror="${FLEETMEDIC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
fm_keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# fm_apt_setup DIR TYPE SUITE...: a private apt configuration under DIR (its
# own source list, lists and cache) with TYPE ("deb" or "deb-src") lines for
# the SUITEs; the options to hand apt-get are left in the array fm_aptopts.
fm_apt_setup() {
    local dir=$1 type=$2 s
    shift 2
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    : >"$dir/sources.list"
    for s in "$@"; do
        printf '%s [signed-by=%s] %s %s main\n' "$type" "$fm_keyring" "$fm_mirror" "$s" >>"$dir/sources.list"
    done
    fm_aptopts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
                -o APT::Sandbox::User=root -q)
}

# fm_verified DIR FILE SHA256: the file is there and is the one pinned.
fm_verified() {
    [ -f "$1/$2" ] && [ "$(sha256sum <"$1/$2" | cut -d' ' -f1)" = "$3" ]
}

# fm_fetch_checked DIR LOCK NAME VERSION SUITE POOL FILE SHA256: after apt
# has fetched what it could into DIR, the file must be the one LOCK pins. A
# file apt did not fetch may still be in the pool when the suite's index has
# moved on to a newer version: apt's own helper fetches it and checks the hash.
fm_fetch_checked() {
    local dir=$1 lock=$2 name=$3 version=$4 suite=$5 pool=$6 file=$7 sha=$8
    fm_verified "$dir" "$file" "$sha" && return 0
    if [ -f "$dir/$file" ]; then
        die "$file as the Debian archive serves it has sha256 $(sha256sum <"$dir/$file" | cut -d' ' -f1), $lock says $sha"
    fi
    /usr/lib/apt/apt-helper download-file "$fm_mirror/$pool/$file" "$dir/$file" "SHA256:$sha" >&2 ||
        die "the Debian archive did not serve $file ($name $version, $suite); $lock needs it"
    fm_verified "$dir" "$file" "$sha" || die "$file does not match the sha256 in $lock"
}
