// apm's own version, read from its package.json whether running from source (lib/) or the build (dist/lib/).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

function readVersion (): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, rel), 'utf8'))
      if (pkg.name === 'apm' && typeof pkg.version === 'string') return pkg.version
    } catch {}
  }
  return '0.0.0'
}

export const VERSION = readVersion()

/** The export requests' User-Agent starts with this; the http instrumentation never traces such requests. */
export const AGENT_USER_AGENT_PREFIX = 'apm-node/'
