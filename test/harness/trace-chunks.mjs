// Preloaded with NODE_OPTIONS="--import <this file>" by test/lean-startup.test.ts: records
// which chunks of dist/bundle each step process loads, one line per chunk, in the
// file named by RUN_TASK_TRACE_CHUNKS ("<entry> <main|post> <chunk file>").
import { register } from 'node:module'

const file = process.env.RUN_TASK_TRACE_CHUNKS
if (file) {
  const step = `${process.argv[1] ?? ''} ${process.env.STATE_isPost ? 'post' : 'main'}`
  register(new URL('./trace-chunks-hooks.mjs', import.meta.url), { data: { file, step } })
}
