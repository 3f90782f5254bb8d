import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { minimatch } from 'minimatch'

/** Every regular file below `dir`, as paths relative to it with `/` separators. */
export function listFiles(dir: string): string[] {
  const found: string[] = []
  const walk = (current: string, prefix: string): void => {
    let entries
    try {
      entries = readdirSync(current, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name
      if (entry.isDirectory()) walk(path.join(current, entry.name), relative)
      else if (entry.isFile()) found.push(relative)
    }
  }
  walk(dir, '')
  return found.sort()
}

/** Files below `dir` that match any of the glob patterns (dotfiles included). */
export function matchFiles(dir: string, patterns: readonly string[]): string[] {
  return listFiles(dir).filter((file) => patterns.some((p) => minimatch(file, p, { dot: true, matchBase: false })))
}

/**
 * Copies each file into `destDir` under a flat, unique name derived from its
 * path (`a/b/TEST-x.xml` becomes `a__b__TEST-x.xml`). Returns the new names.
 */
export function copyFlat(fromDir: string, files: readonly string[], destDir: string): string[] {
  mkdirSync(destDir, { recursive: true })
  return files.map((file) => {
    const flat = file.replace(/\//g, '__')
    copyFileSync(path.join(fromDir, file), path.join(destDir, flat))
    return flat
  })
}

/** Total size of the files below `dir`. */
export function directorySize(dir: string): number {
  return listFiles(dir).reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0)
}
