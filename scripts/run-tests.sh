#!/usr/bin/env bash
# Runs every test file, in two runs. The files that measure the node (frame rates, CPU load)
# run one at a time, alone on the machine. The others run two at a time: they
# mostly wait on Chromium, Janus, PostgreSQL and timers, and one at a time the whole suite kept
# a 2-core machine about a third busy (9.6 min of CPU in 18 min). Test processes that run at
# once take browser uids of their own (test/helpers/uid-range.ts). Any failure fails the run,
# after both runs.
set -uo pipefail
cd "$(dirname "$0")/.."

# Frame rates and layer sizes at a viewer against a floor (publish, whip, whep, hostile, codec: a
# busy machine's encoder may drop the big layer; beside the publish file the WHEP player got the
# small layer where it asked for the big one, 20 s on end, 2026-11-27, which may have been the
# dropped keyframe request found on 2026-11-28), the machine's CPU load (admission), six tasks at
# once that fill both cores (resilience), seconds off air in a failover (cluster). (The firewall
# test keeps to uids no other test gives a node: it runs beside the others. So does the node
# systemd starts in a container, in a PID namespace of its own: nodes tell each other's firewall
# rules by pid and PID namespace.)
ALONE=(
  test/engine/admission.test.ts
  test/engine/codec.test.ts
  test/cluster/cluster.test.ts
  test/engine/resilience.test.ts
  test/engine/hostile.test.ts
  test/engine/publish.test.ts
  test/engine/whip.test.ts
  test/engine/whep.test.ts
)
# node --test runs files in the order of their names. Longest first was tried (2026-11-26,
# through node:test's run(), which keeps the order given): it put the heavy files beside each
# other, each took longer (546 s of files became 601 s) and the run went from 313 s to 345 s.
# By name, the API and CLI files come beside the engine's, and the unit tests fill the end.
SHARED=()
while IFS= read -r f; do
  [[ " ${ALONE[*]} " == *" $f "* ]] || SHARED+=("$f")
done < <(find test -name '*.test.ts' | sort)

# A test that times out leaves its browsers, servers and timers behind, and its file's process
# would wait for them for ever (one such file once held CI until its 90-minute cap). So each
# file's process exits once its tests are done (--test-force-exit), a file that takes over 10
# minutes is killed and fails (--test-timeout, which the runner applies to each file as a
# whole), and each run is a process group of its own whose leftovers are killed before the
# next starts.
run() {
  local concurrency=$1
  shift
  setsid node --import tsx --test --test-force-exit --test-timeout=600000 --test-concurrency="$concurrency" "$@" &
  local pid=$!
  wait $pid
  local rc=$?
  kill -KILL -- "-$pid" 2>/dev/null
  return $rc
}

status=0
run 2 "${SHARED[@]}" || status=1
run 1 "${ALONE[@]}" || status=1
exit $status
