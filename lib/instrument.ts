// The loader: instrumentations declared as data (module + semver range + patch/unpatch), loaded and applied when
// their module is first required or imported.
import { builtinModules, syncBuiltinESMExports } from 'node:module'
import { readFileSync } from 'node:fs'
import { join, sep } from 'node:path'
import type { Logger } from './logger'
import type { Tracer } from './tracer'

export interface PatchContext {
  tracer: Tracer
  /** The module's version ('' for builtins). */
  version: string
  /** The module's directory ('' for builtins). */
  basedir: string
}

/** What a target instruments, as plain data: the registry declares it without loading the instrumentation. */
export interface TargetSpec {
  /** npm name, or a builtin without its `node:` prefix. */
  module: string
  /** semver range of supported versions; ignored for builtins. */
  versions: string
  /** What a builtin target really instruments, for the README's versions table (e.g. fetch through a channel). */
  covers?: string
}

export interface Target extends TargetSpec {
  /** Patch the module's exports in place (preferred) or return replacement exports. */
  patch (exports: any, ctx: PatchContext): unknown
  unpatch? (exports: any): void
}

export interface Instrumentation {
  /** The npm name of the (main) module, as the file name: `pg`, `express`. */
  id: string
  targets: Target[]
}

export function defineInstrumentation (instrumentation: Instrumentation): Instrumentation {
  return instrumentation
}

/**
 * One entry of the registry (instrumentations/index.ts): the instrumentation's id and targets as data, and load(),
 * which requires its code. The loader calls load() once, when it first sees a module of a target whose range fits.
 */
export interface RegistryEntry {
  id: string
  targets: TargetSpec[]
  load (): Instrumentation
}

const builtins = new Set(builtinModules)

/** Set on globalThis by the preload entries that register import-in-the-middle's ESM loader hook. */
export const ESM_LOADER_REGISTERED = Symbol.for('apm.esm-loader-registered')

// Where the explicit middleware is the way out of an unhookable load order.
const MIDDLEWARE_HINT: Record<string, string> = {
  express: '; or add app.use(agent.middleware.express()) as the first middleware',
  router: '; or add app.use(agent.middleware.express()) as the first middleware',
  koa: '; or add app.use(agent.middleware.koa()) as the first middleware'
}

interface Patched { target: Target, exports: unknown }

// Per hooked module: the registry entries that target it, with the ranges they declare.
interface ModuleEntry { entry: RegistryEntry, versions: string[] }

export class Loader {
  readonly #tracer: Tracer
  readonly #log: Logger
  readonly #byModule = new Map<string, ModuleEntry[]>()
  // Instrumentations loaded so far, by id (null: load() threw, not retried).
  readonly #loaded = new Map<string, Instrumentation | null>()
  readonly #patched: Patched[] = []
  readonly #seen = new WeakSet<object>()
  readonly #warned = new Set<string>()
  #laterCheck: NodeJS.Timeout | undefined
  #hook: { unhook (): void } | undefined
  #esmHook: { unhook (): void } | undefined

  constructor (registry: RegistryEntry[], disabled: string[], tracer: Tracer, log: Logger) {
    this.#tracer = tracer
    this.#log = log
    for (const entry of registry) {
      if (disabled.includes(entry.id)) continue
      for (const spec of entry.targets) {
        const list = this.#byModule.get(spec.module) ?? []
        const known = list.find((m) => m.entry === entry)
        if (known === undefined) list.push({ entry, versions: [spec.versions] })
        else known.versions.push(spec.versions)
        this.#byModule.set(spec.module, list)
      }
    }
  }

  get modules (): string[] {
    return [...this.#byModule.keys()]
  }

  /**
   * Patch builtins now (loading their instrumentations); hook require (and import, when the ESM loader hook is
   * registered) for the rest, whose instrumentations load with the first matching module.
   */
  enable (): void {
    const external: string[] = []
    for (const name of this.#byModule.keys()) {
      if (builtins.has(name)) {
        this.onModule(require(name), name, '')
      } else {
        external.push(name)
      }
    }
    syncBuiltinESMExports()
    if (external.length === 0) return
    this.#warnUnhooked(external, 'start')
    // Imports that bypassed the hooks (an ES module app started without --import) show up a little later.
    this.#laterCheck = setTimeout(() => this.#warnUnhooked(external, 'later'), 2000).unref()
    try {
      const { Hook } = require('require-in-the-middle') as typeof import('require-in-the-middle')
      this.#hook = new Hook(external, { internals: false }, (exports, name, basedir) => this.onModule(exports, name, basedir ?? ''))
    } catch (err) {
      this.#log.error(`could not hook require(): ${String(err)}; modules loaded with require are not instrumented`)
    }
    // import-in-the-middle only sees `import`s when its loader hook is registered (lib/start.mts, or lib/start.ts for
    // an ES module entry), which says so first: without it, loading the library would only cost start-up time.
    if ((globalThis as Record<symbol, unknown>)[ESM_LOADER_REGISTERED] !== true) return
    try {
      const iitm = require('import-in-the-middle') as { Hook: new (modules: string[], options: object, hook: (namespace: any, name: string, basedir?: string) => unknown) => { unhook (): void } }
      this.#esmHook = new iitm.Hook(external, {}, (namespace, name, basedir) => this.#onImport(namespace, name, basedir ?? ''))
    } catch (err) {
      this.#log.debug(`ESM hook unavailable: ${String(err)}`)
    }
  }

  // import-in-the-middle hands over the module namespace. Of a CommonJS package (express, koa, pg, also behind
  // their ESM wrappers) the `default` export is the very object require() returns: patches apply to it, so one
  // object is patched once (onModule remembers it) whether it arrives through require, import, or both.
  // Returning undefined leaves the namespace as it is; a patch that replaced the exports becomes the default.
  #onImport (namespace: any, name: string, basedir: string): unknown {
    if (namespace === null || typeof namespace !== 'object') return undefined
    let exports: unknown
    try {
      const def = namespace.default
      exports = def !== null && (typeof def === 'object' || typeof def === 'function') ? def : namespace
    } catch {
      exports = namespace
    }
    const result = this.onModule(exports, name, basedir)
    return result !== exports && exports !== namespace ? result : undefined
  }

  /** Apply every matching target to a module's exports. Returns the (possibly replaced) exports. */
  onModule (exports: any, name: string, basedir: string): any {
    const entries = this.#byModule.get(name)
    if (entries === undefined || exports === null || (typeof exports !== 'object' && typeof exports !== 'function')) return exports
    if (this.#seen.has(exports)) return exports
    this.#seen.add(exports)
    const version = basedir === '' ? '' : readVersion(basedir)
    // A module may have several targets for different version ranges (express 4 and 5): unsupported only if none
    // fits. Decided from the registry's data, so an unsupported version does not even load the instrumentation.
    if (basedir !== '' && !entries.some((m) => m.versions.some((range) => satisfies(version, range)))) {
      const ranges = entries.flatMap((m) => m.versions).join(' || ')
      this.#log.limited('info', `unsupported:${name}@${version}`, `${name}@${version} is outside the supported range ${ranges}; not instrumented`, Infinity)
      return exports
    }
    for (const { entry, versions } of entries) {
      if (basedir !== '' && !versions.some((range) => satisfies(version, range))) continue
      const inst = this.#load(entry)
      if (inst === null) continue
      for (const target of inst.targets) {
        if (target.module !== name || (basedir !== '' && !satisfies(version, target.versions))) continue
        try {
          const replaced = target.patch(exports, { tracer: this.#tracer, version, basedir })
          if (replaced !== undefined && replaced !== exports) exports = replaced
          this.#patched.push({ target, exports })
          this.#log.debug(`instrumented ${name}${version === '' ? '' : '@' + version}`)
        } catch (err) {
          // A failing patch leaves the module as it was (patches must not half-apply) and says so once.
          this.#log.limited('warn', `patch:${name}@${version}`, `could not instrument ${name}${version === '' ? '' : '@' + version}: ${String(err)}; left unpatched`, Infinity)
        }
      }
    }
    return exports
  }

  // The instrumentation's code, required on first use; a file that fails to load is reported once and skipped.
  #load (entry: RegistryEntry): Instrumentation | null {
    let inst = this.#loaded.get(entry.id)
    if (inst !== undefined) return inst
    try {
      inst = entry.load()
    } catch (err) {
      inst = null
      this.#log.warn(`could not load the ${entry.id} instrumentation: ${String(err)}; its modules are not instrumented`)
    }
    this.#loaded.set(entry.id, inst)
    return inst
  }

  disable (): void {
    this.#hook?.unhook()
    this.#esmHook?.unhook()
    clearTimeout(this.#laterCheck)
    this.#hook = this.#esmHook = undefined
    for (const { target, exports } of this.#patched.splice(0)) {
      try { target.unpatch?.(exports) } catch {}
    }
    syncBuiltinESMExports()
  }

  // A module loaded before start() cannot be patched any more, and one an ES module app imports without the ESM
  // loader hook never passes apm: say which, rather than stay silent. Read from require.cache (these packages are
  // CommonJS, also when imported from ESM): a loaded package whose main exports apm never saw.
  #warnUnhooked (names: string[], when: 'start' | 'later'): void {
    const files = Object.keys(require.cache)
    for (const name of names) {
      if (this.#warned.has(name)) continue
      const marker = `${sep}node_modules${sep}${name}${sep}`
      const dirs = new Set<string>()
      for (const file of files) {
        const at = file.lastIndexOf(marker)
        if (at !== -1) dirs.add(file.slice(0, at + marker.length - 1))
      }
      for (const dir of dirs) {
        let exports: unknown
        try { exports = require.cache[require.resolve(dir)]?.exports } catch { continue }
        if (exports === undefined || exports === null || (typeof exports !== 'object' && typeof exports !== 'function') || this.#seen.has(exports)) continue
        this.#warned.add(name)
        this.#log.warn(when === 'start'
          ? `${name} was loaded before apm started, so it is not instrumented. Start apm before the app loads: ` +
            '`node --import apm/start app.mjs` for ES modules (imports are evaluated before the code of the module ' +
            'that contains them, so agent.start() inside an ES module app always comes too late), `node -r apm/start ' +
            `app.js\` or require('apm').start() before require('${name}') for CommonJS${MIDDLEWARE_HINT[name] ?? ''}`
          : `${name} was loaded without passing apm's module hooks, so it is not instrumented. Start an ES module app ` +
            `with \`node --import apm/start app.mjs\`${MIDDLEWARE_HINT[name] ?? ''}`)
        break
      }
    }
  }
}

function readVersion (basedir: string): string {
  try {
    const version = JSON.parse(readFileSync(join(basedir, 'package.json'), 'utf8')).version
    return typeof version === 'string' ? version : ''
  } catch {
    return ''
  }
}

function satisfies (version: string, range: string): boolean {
  if (range === '*') return true
  try {
    const semver = require('semver') as typeof import('semver')
    return semver.satisfies(version, range, { includePrerelease: true })
  } catch {
    return false
  }
}
