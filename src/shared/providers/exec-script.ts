/**
 * Shell snippets that every provider runs in the workspace. They are POSIX sh,
 * because the only thing a workspace image is sure to have is /bin/sh.
 *
 * The environment travels on stdin, base64-encoded, one `NAME=value` line each and
 * a random end marker, so values never appear in a command line, a process list or
 * the API server's audit log, and stdin never needs an end-of-file (the v4 exec
 * protocol cannot send one without closing the stream).
 */
import { randomBytes } from 'node:crypto'

/** Where relative paths (evidence, working directory fall-back) are anchored in a workspace. */
const WORKSPACE_ROOT = '${PROJECTS_ROOT:-$HOME}'

const RUN_WRAPPER = `
rt_dir="\${TMPDIR:-/tmp}/run-task-$1"
mkdir -p "$rt_dir" || exit 125
while IFS= read -r rt_line; do
  [ "$rt_line" = "$1" ] && break
  rt_name=\${rt_line%%=*}
  rt_value=$(printf '%s' "\${rt_line#*=}" | base64 -d; printf x) || { echo "run-task: cannot decode the environment" >&2; exit 125; }
  export "$rt_name=\${rt_value%x}"
done
case "\${RUN_TASK_EVIDENCE_DIR:-}" in ''|/*) ;; *) RUN_TASK_EVIDENCE_DIR="${WORKSPACE_ROOT}/$RUN_TASK_EVIDENCE_DIR"; export RUN_TASK_EVIDENCE_DIR ;; esac
[ -n "\${RUN_TASK_EVIDENCE_DIR:-}" ] && mkdir -p -- "$RUN_TASK_EVIDENCE_DIR"
# Che: the first project; elsewhere the session's own start directory (a Coder agent's dir).
if [ -n "\${PROJECT_SOURCE:-}" ] && [ -d "$PROJECT_SOURCE" ]; then cd -- "$PROJECT_SOURCE"; elif [ -n "\${PROJECTS_ROOT:-}" ]; then cd -- "$PROJECTS_ROOT" 2>/dev/null || true; fi
if [ -n "$2" ]; then cd -- "$2" || { echo "run-task: the working directory '$2' does not exist in the workspace" >&2; exit 125; }; fi
if command -v bash >/dev/null 2>&1; then rt_shell=bash; else rt_shell=sh; fi
# A session of its own lets a timeout kill the whole process tree.
if command -v setsid >/dev/null 2>&1; then setsid "$rt_shell" -c "$3" </dev/null & else "$rt_shell" -c "$3" </dev/null & fi
rt_pid=$!
echo "$rt_pid" > "$rt_dir/pid"
wait "$rt_pid"
rt_rc=$?
rm -rf -- "$rt_dir"
exit "$rt_rc"
`

const KILL_SCRIPT = `
rt_pid=$(cat "\${TMPDIR:-/tmp}/run-task-$1/pid" 2>/dev/null) || exit 0
rt_tree() { echo "$1"; for rt_c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do rt_tree "$rt_c"; done; }
rt_signal() { kill -"$1" -"$rt_pid" 2>/dev/null || kill -"$1" $(rt_tree "$rt_pid") 2>/dev/null; }
rt_signal TERM || exit 0
for rt_i in 1 2 3 4 5; do kill -0 "$rt_pid" 2>/dev/null || exit 0; sleep 1; done
rt_signal KILL
exit 0
`

/** Exit status of the tar script when the directory does not exist. */
export const TAR_MISSING_DIR_EXIT = 3

const TAR_SCRIPT = `
d=$1
case "$d" in /*) ;; *) d="${WORKSPACE_ROOT}/$d" ;; esac
[ -d "$d" ] || exit ${TAR_MISSING_DIR_EXIT}
cd -- "$d" && exec tar cf - .
`

/** A prepared command: its argv and the stdin that carries its environment. */
export interface WrappedCommand {
  /** Identifies this run inside the workspace, so a timeout can kill it. */
  readonly token: string
  readonly argv: readonly string[]
  readonly stdin: string
}

/** Wraps a command line for `sh -c`, with its environment on stdin. */
export function wrapCommand(command: string, cwd: string, env: ReadonlyMap<string, string>): WrappedCommand {
  const token = `rt${randomBytes(8).toString('hex')}`
  const lines = [...env].map(([name, value]) => `${name}=${Buffer.from(value, 'utf8').toString('base64')}`)
  return {
    token,
    argv: ['sh', '-c', RUN_WRAPPER, 'run-task', token, cwd, command],
    stdin: `${lines.join('\n')}${lines.length ? '\n' : ''}${token}\n`,
  }
}

/** Kills the process group of a wrapped command: TERM, then KILL after 5 s. */
export function killCommand(token: string): readonly string[] {
  return ['sh', '-c', KILL_SCRIPT, 'run-task', token]
}

/** Streams a directory out as one tar archive. */
export function tarCommand(remoteDir: string): readonly string[] {
  return ['sh', '-c', TAR_SCRIPT, 'run-task', remoteDir]
}
