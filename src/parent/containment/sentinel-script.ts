/**
 * The sentinel's program, for `/bin/sh -c` (POSIX sh: dash, bash, busybox
 * ash). It reads its standard input, a pipe whose other end only the pool's
 * process holds, line by line:
 *
 *   +PID:START  a worker to kill if the pool's process dies (START: field 22
 *               of /proc/PID/stat, the process's start time)
 *   -PID        that worker exited (written a turn after the pool heard of
 *               it; it drops every entry with that pid, so the pool writes
 *               it before a `+` for a new process given the same pid)
 *   stop        the pool shut down: exit, killing nothing
 *
 * It starts with the workers in $DEADPOOL_SENTINEL_WORKERS (`PID:START`
 * words), given at its start so that none can be lost if the pool's process
 * dies before it wrote them. The end of its input without `stop` means the pool's process is gone: the
 * kernel closed the pipe. Then it writes `1` to the pool's `cgroup.kill`
 * (argument 1, empty without one), which kills every worker cgroup and all
 * inside; stops each listed worker that is still the process it was (pid
 * and start time, and not already dying), with its process group, and
 * every descendant, as it finds them, so none can fork past the walk;
 * SIGKILLs each of them, deepest first, that a second look, right before,
 * finds still the same process and stopped (waiting for the stop to take
 * effect; a stopped process cannot exit, so its pid cannot have gone to
 * another one since; a worker the cgroup kill reached is not stopped, and
 * is that kill's); and removes the pool's
 * cgroup directories (arguments 2...) once empty. docs/containment.md,
 * "When the pool's process dies".
 */
export const SENTINEL_SCRIPT = `# deadpool sentinel: kills the pool's workers when the pool's process dies
kill_file=$1
shift
workers=" \${DEADPOOL_SENTINEL_WORKERS:-} "
while IFS= read -r line; do
  case $line in
  stop) exit 0 ;;
  +*) workers="$workers\${line#+} " ;;
  -*)
    next=' '
    for w in $workers; do [ "\${w%%:*}" = "\${line#-}" ] || next="$next$w "; done
    workers=$next
    ;;
  esac
done

# stat_of PID: its state in $state, its parent's pid in $ppid and its start time in $start.
stat_of() {
  stat=
  { IFS= read -r stat <"/proc/$1/stat"; } 2>/dev/null
  [ -n "$stat" ] || return 1
  set -- \${stat##*) }
  state=$1
  ppid=$2
  shift 19
  start=$1
}

# still PID START: PID is still the process that started at START, and
# stopped. A stop takes effect once the process runs, which on a busy
# machine can take a while: waited for, up to ~1 s; a dying one is not.
still() {
  tries=0
  while stat_of "$1" && [ "$start" = "$2" ]; do
    case $state in
    T | t) return 0 ;;
    Z | X | x) return 1 ;;
    esac
    [ $tries -lt 100 ] || return 1
    tries=$((tries + 1))
    sleep 0.01
  done
  return 1
}

[ -z "$kill_file" ] || { echo 1 >"$kill_file"; } 2>/dev/null
# Entries PID:START, of each process stopped: the workers, then what they started.
tree=' '
leaders=
for w in $workers; do
  pid=\${w%%:*}
  stat_of "$pid" && [ "$start" = "\${w#*:}" ] || continue
  # A zombie, or a worker already dying of the cgroup kill, cannot be stopped.
  case $state in Z | X | x) continue ;; esac
  kill -s STOP -- "-$pid" "$pid" 2>/dev/null
  tree="$tree$w "
  leaders="$leaders $w"
done
found=1
while [ "$tree" != ' ' ] && [ $found = 1 ]; do
  found=0
  for dir in /proc/[0-9]*; do
    pid=\${dir#/proc/}
    case $tree in *" $pid:"*) continue ;; esac
    stat_of "$pid" || continue
    case $tree in
    *" $ppid:"*)
      kill -s STOP "$pid" 2>/dev/null
      tree="$tree$pid:$start "
      found=1
      ;;
    esac
  done
done
# The walk took a while: each is signalled only if it is still what it was.
# Deepest first (the reverse of the walk's order): a stopped process whose
# parent dies first may be continued by the kernel (an orphaned process
# group gets SIGHUP and SIGCONT), and would no longer pass the look.
rev=
for w in $tree; do rev="$w $rev"; done
for w in $rev; do
  pid=\${w%%:*}
  still "$pid" "\${w#*:}" || continue
  case "$leaders " in *" $w "*) kill -s KILL -- "-$pid" 2>/dev/null ;; esac
  kill -s KILL "$pid" 2>/dev/null
done

tries=0
while [ $# -gt 0 ] && [ $tries -lt 100 ]; do
  [ -d "$1" ] && find "$1" -depth -type d -exec rmdir {} + 2>/dev/null
  if [ -d "$1" ]; then
    tries=$((tries + 1))
    sleep 0.02
  else
    shift
  fi
done
`;
