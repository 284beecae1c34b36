# shellcheck shell=bash
# bench/lib/cluster.sh: what the cluster benchmarks share (bench/cluster,
# bench/rebuild), sourced by them: a work dir and a system token, the trap
# that stops every process they start (node_pid, bench_pids) and keeps the
# logs of a failed run, starting and stopping nodes, stockctl and
# stockgrid-bench calls, and queries over the nodes' cluster.status.
#
# The sourcing script sets first: root, bench_name (for messages), node_bin,
# bench_bin, ctl_bin, durability, records, wait_leaders_s, wait_caught_up_s;
# and, before using join_of/name_of/caught_up, cluster_port[] and member[]
# for the nodes n1, n2, n3.
# shellcheck disable=SC2154  # the variables above are the caller's

work=$(mktemp -d)
system_token=sg-bench-system-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
declare -A node_pid=() node_port=() cluster_port=() node_args=()
bench_pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${bench_pids[@]}" "${node_pid[@]}"; do
    [[ -n $pid ]] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -CONT "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  # On failure, keep the end of every node's log (a stuck copy can log
  # thousands of lines a second) and the benches' output.
  if ((status != 0)); then
    local kept f
    kept=$(mktemp -d "/tmp/${bench_name//\//-}-logs.XXXXXX")
    for f in "$work"/*.log "$work"/*.out "$work"/*.json; do
      [[ -f $f ]] && tail -n 5000 "$f" >"$kept/$(basename "$f")"
    done
    echo "$bench_name: logs kept in $kept" >&2
  fi
  rm -rf -- "$work"
}
# INT and TERM end the script through its EXIT trap (a trap that returned
# would let the script go on after its nodes are gone).
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "$*"; }
die() { echo "$bench_name: $*" >&2; exit 1; }
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# launch_node NAME ARGS...: starts a node on $work/NAME (log
# $work/NAME-K.log); sets node_pid[NAME], node_log[NAME], started_at. The
# system token comes from the environment on the first start.
declare -A start_count=() node_log=()
launch_node() {
  local name=$1; shift
  node_args[$name]="$*"
  start_count[$name]=$((${start_count[$name]:-0} + 1))
  node_log[$name]=$work/$name-${start_count[$name]}.log
  mkdir -p "$work/$name"
  started_at=$(now)
  STOCKGRID_ADMIN_TOKEN=$system_token "$node_bin" --data-dir "$work/$name" --port 0 --admin-port 0 \
    --durability "$durability" --tenant-rate-per-second 100000000 --tenant-rate-burst 1000000000 \
    "$@" >"${node_log[$name]}" 2>&1 &
  node_pid[$name]=$!
}

# wait_node NAME: until the node listens (120 s at most); sets node_port[NAME].
wait_node() {
  local name=$1 log_file=${node_log[$1]} i line
  for ((i = 0; i < 1200; i++)); do  # 120 s
    line=$(grep -m1 '^listening on ' "$log_file" 2>/dev/null || true)
    if [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]]; then
      node_port[$name]=${BASH_REMATCH[1]}
      return 0
    fi
    kill -0 "${node_pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$bench_name: node $name did not start; its log:" >&2
  tail -n 20 "$log_file" >&2
  return 1
}

start_node() { launch_node "$@" && wait_node "$1"; }

# SIGTERM, then SIGKILL after 60 s.
stop_node() {
  local name=$1 pid=${node_pid[$1]} i
  [[ -n $pid ]] || return 0
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  node_pid[$name]=
}

# ctl NAME TOKEN TIMEOUT ARGS...: one stockctl command against a node, the
# answer as one JSON line on stdout; stockctl's exit status.
ctl() {
  local name=$1 token=$2 timeout=$3; shift 3
  "$ctl_bin" --url "ws://127.0.0.1:${node_port[$name]}/v1/ws" --token "$token" --raw --timeout "$timeout" "$@"
}

# make_tenant NAME: tenant `bench` and a writer key on that node; prints the
# writer token.
make_tenant() {
  local name=$1 answer admin writer
  answer=$(ctl "$name" "$system_token" 10s tenant create bench) || die "tenant.create on $name: $answer"
  admin=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$answer")
  answer=$(ctl "$name" "$admin" 10s key create writer) || die "key.create on $name: $answer"
  writer=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$answer")
  echo "$writer"
}

# run_bench NAME OUT ARGS...: stockgrid-bench against a node, output in OUT.
run_bench() {
  local name=$1 out=$2; shift 2
  "$bench_bin" --url "ws://127.0.0.1:${node_port[$name]}/v1/ws" --token "${writer[$name]}" \
    --records "$records" "$@" >"$out" 2>&1
}

# The last JSON line of a stockgrid-bench output, field by field.
bench_field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }
bench_summary() {
  python3 - "$1" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"{r['ops_per_s']:.0f} ok/s, p50 {r['p50_us']/1e3:.2f} ms, p99 {r['p99_us']/1e3:.2f} ms, "
      f"errors {json.dumps(r['errors'])}, {'passed' if r['passed'] else 'FAILED'}")
EOF
}

# status NAME: the node's cluster.status as one JSON line (system token).
status() { ctl "$1" "$system_token" 2s cluster status; }

# A python snippet over the status of every node given as files: the exit
# status and output depend on the mode (see each caller).
status_query() {
  python3 - "$@" <<'EOF'
import json, sys
mode, args = sys.argv[1], sys.argv[2:]
def load(path):
    try:
        return json.loads(open(path).read())
    except Exception:
        return None
if mode == "leaders":          # every given node shows a leader for every partition
    ok = True
    for path in args:
        s = load(path)
        if not s or not s.get("cluster") or any(p.get("leader") is None for p in s["partitions"]):
            ok = False
    sys.exit(0 if ok else 1)
if mode == "preferred":        # every given node shows each partition led by its first replica
    ok = True
    for path in args:
        s = load(path)
        if not s or not s.get("cluster") or any(p.get("leader") != p["replicas"][0] for p in s["partitions"]):
            ok = False
    sys.exit(0 if ok else 1)
if mode == "top":              # the member leading the most partitions, not args[1]'s id
    s = load(args[0]); exclude = args[1]
    counts = {}
    for p in s["partitions"]:
        if p.get("leader") and p["leader"] != exclude:
            counts[p["leader"]] = counts.get(p["leader"], 0) + 1
    if not counts:
        sys.exit(1)
    top = max(counts, key=counts.get)
    print(top, counts[top], " ".join(str(p["partition"]) for p in s["partitions"] if p.get("leader") == top))
    sys.exit(0)
if mode == "fewest":           # the member leading the fewest partitions
    s = load(args[0])
    counts = {m["id"]: 0 for m in s["members"]}
    for p in s["partitions"]:
        if p.get("leader") in counts:
            counts[p["leader"]] += 1
    low = min(sorted(counts), key=counts.get)
    print(low, counts[low])
    sys.exit(0)
if mode == "led_without":      # a leader for every partition, none of them args[1]
    s = load(args[0])
    ok = bool(s) and all(p.get("leader") not in (None, args[1]) for p in s["partitions"])
    sys.exit(0 if ok else 1)
if mode == "lagging":          # partitions whose leader reports a follower's lag > 0
    out = []
    for path in args:
        s = load(path)
        for p in (s or {}).get("partitions", []):
            for f, n in (p.get("lag") or {}).items():
                if n:
                    out.append(f"{p['partition']}:{f}={n}")
    print(" ".join(out) if out else "none")
    sys.exit(0)
if mode == "count":            # how many partitions args[1] leads
    s = load(args[0])
    print(sum(1 for p in s["partitions"] if p.get("leader") == args[1]), len(s["partitions"]))
    sys.exit(0)
if mode == "leads":            # how many partitions each member leads
    s = load(args[0]); counts = {}
    for p in s["partitions"]:
        counts[p.get("leader") or "none"] = counts.get(p.get("leader") or "none", 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    sys.exit(0)
if mode == "caught_up":        # args: victim id, then every node's status file
    victim, statuses = args[0], [load(p) for p in args[1:]]
    if any(s is None for s in statuses):
        sys.exit(1)
    by_id = {s["self"]: s for s in statuses}
    mine = by_id.get(victim)
    if not mine:
        sys.exit(1)
    for p in mine["partitions"]:
        if victim not in p["replicas"]:
            continue
        if p.get("role") not in ("follower", "leader") or p.get("leader") is None:
            sys.exit(1)
        if p["leader"] == victim:
            continue
        leader = by_id.get(p["leader"])
        if not leader:
            sys.exit(1)
        lp = leader["partitions"][p["partition"]]
        if lp.get("role") != "leader" or lp.get("last_seq") != p.get("last_seq"):
            sys.exit(1)
        if lp.get("lag", {}).get(victim, 0) != 0:
            sys.exit(1)
    sys.exit(0)
sys.exit(2)
EOF
}

# wait_leaders NAME...: until every named node shows a leader for every
# partition (wait_leaders_s at most); prints the seconds waited.
# wait_leaders --preferred NAME...: until each is led by its preferred
# replica (the leads move back there by give-backs after a restart).
wait_leaders() {
  local since deadline n files query=leaders
  if [[ $1 == --preferred ]]; then query=preferred; shift; fi
  since=$(now)
  deadline=$(($(date +%s) + wait_leaders_s))
  while (($(date +%s) < deadline)); do
    files=()
    for n in "$@"; do
      status "$n" >"$work/status-$n.json" 2>/dev/null || true
      files+=("$work/status-$n.json")
    done
    if status_query "$query" "${files[@]}"; then
      seconds_since "$since"
      return 0
    fi
    sleep 0.2
  done
  echo "$bench_name: no $([[ $query == preferred ]] && echo "preferred ")leader for every partition after ${wait_leaders_s} s" >&2
  return 1
}

# The median of the numbers given ("null", a wait that ran out, left out).
median() { printf '%s\n' "$@" | grep -v '^null$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "null"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

join_of() {
  local n=$1 m list=()
  for m in n1 n2 n3; do [[ $m == "$n" ]] || list+=("127.0.0.1:${cluster_port[$m]}"); done
  local IFS=,
  echo "${list[*]}"
}

name_of() {
  local n
  for n in n1 n2 n3; do
    if [[ ${member[$n]} == "$1" ]]; then echo "$n"; return 0; fi
  done
  return 1
}

# caught_up VICTIM SINCE: until the victim's copies end where their leaders'
# do; prints the seconds since SINCE.
caught_up() {
  local victim=$1 since=$2 deadline n files
  deadline=$(($(date +%s) + wait_caught_up_s))
  while (($(date +%s) < deadline)); do
    files=()
    for n in n1 n2 n3; do
      status "$n" >"$work/status-$n.json" 2>/dev/null || true
      files+=("$work/status-$n.json")
    done
    if status_query caught_up "${member[$victim]}" "${files[@]}"; then
      seconds_since "$since"
      return 0
    fi
    sleep 0.2
  done
  echo null
}
