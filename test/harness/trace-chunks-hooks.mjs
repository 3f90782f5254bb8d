// Module hooks of trace-chunks.mjs (they run on the loader thread).
import { appendFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

let target = { file: '', step: '' }

export function initialize(data) {
  target = data
}

export async function load(url, context, next) {
  if (url.startsWith('file:') && url.includes('/dist/bundle/'))
    appendFileSync(target.file, `${target.step} ${fileURLToPath(url)}\n`)
  return next(url, context)
}
