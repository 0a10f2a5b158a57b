# Sourced by bench/run and bench/profile: finding the port a server listens on.

# listen_addr PID: the loopback address PID listens on (from /proc, so it does not depend on
# what the server logs); empty while it listens on nothing.
listen_addr() {
  local inodes hex
  inodes="$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l ' 2>/dev/null | tr -dc '0-9 ' || true)"
  [[ -n "$inodes" ]] || return 0
  hex="$(awk -v inodes="$inodes" 'BEGIN { n = split(inodes, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
    $4 == "0A" && ($10 in want) { split($2, p, ":"); print p[2]; exit }' /proc/net/tcp)"
  [[ -z "$hex" ]] || echo "127.0.0.1:$((16#$hex))"
}
