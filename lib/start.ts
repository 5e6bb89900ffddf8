// Preload entry (`node -r apm/start app.js`): start the agent from the environment before the app loads. When the
// entry point is an ES module (`node -r apm/start app.mjs`, or NODE_OPTIONS=-r…), also register the ESM loader hook
// so its imports are instrumented as with `--import apm/start`.
import { readFileSync } from 'node:fs'
import { isBuiltin, register } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import agent from './index'

const esmEntry = isEsmEntry(process.argv[1])
// The loader hook is registered below, after start(): tell the agent's Loader to create its import Hook now
// (lib/instrument.ts ESM_LOADER_REGISTERED, not imported: with `active: false` the loader is never loaded).
if (esmEntry) (globalThis as Record<symbol, unknown>)[Symbol.for('apm.esm-loader-registered')] = true
agent.start()

if (agent.isStarted() && esmEntry) {
  // A static include list (no message channel: a CommonJS preload cannot wait for acknowledgements, and needs not:
  // register() returns once the loader is initialized, before the entry module is loaded).
  const { instrumentations } = require('../instrumentations/index') as typeof import('../instrumentations/index')
  const disabled = agent.config?.disableInstrumentations ?? []
  const include = new Set<string>()
  for (const inst of instrumentations) {
    if (disabled.includes(inst.id)) continue
    for (const target of inst.targets) if (!isBuiltin(target.module)) include.add(target.module)
  }
  try {
    if (include.size !== 0) register('import-in-the-middle/hook.mjs', pathToFileURL(__filename), { data: { include: [...include] } })
  } catch (err) {
    process.emitWarning(`apm: could not register the ESM loader hook (${String(err)}); modules loaded with import are not instrumented; use --import apm/start`)
  }
}

// .mjs, or .js / no extension under a package.json with "type": "module".
function isEsmEntry (file: string | undefined): boolean {
  if (typeof file !== 'string' || file === '') return false
  if (file.endsWith('.mjs') || file.endsWith('.mts')) return true
  if (file.endsWith('.cjs') || file.endsWith('.cts') || file.endsWith('.json') || file.endsWith('.node')) return false
  let dir = dirname(resolve(file))
  for (;;) {
    try {
      return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type === 'module'
    } catch {}
    const parent = dirname(dir)
    if (parent === dir) return false
    dir = parent
  }
}
