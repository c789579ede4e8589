# Sourced by bootstrap.sh and scripts/install-toad.sh: the one reading of the host's apt sources.

# The first Debian archive URI configured on this host (deb822 or one-line format).
# Security and update archives are skipped: debootstrap needs the main archive.
host_mirror() {
    local uri=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        uri="$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' /etc/apt/sources.list.d/*.sources \
            | grep -v -- '-security' | head -n 1 || true)"
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) {print $i; break}}' \
            /etc/apt/sources.list | grep -v -- '-security' | head -n 1 || true)"
    fi
    printf '%s' "$uri"
}
