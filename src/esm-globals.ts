import path from 'node:path'
import { fileURLToPath } from 'node:url'

// ssh2's bundled poly1305 (emscripten output) reads the CommonJS `__dirname`, which
// an ES module bundle does not have. This module is imported first by the bundle.
const scope = globalThis as { __dirname?: string }
scope.__dirname ??= path.dirname(fileURLToPath(import.meta.url))
