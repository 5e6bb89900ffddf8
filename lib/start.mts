// ESM preload entry (`node --import apm/start app.mjs`): registers the ESM loader hook (import-in-the-middle),
// starts the agent, and waits until the loader confirmed which modules to hook — all before the app's imports run.
import { createRequire, register } from 'node:module'

const require = createRequire(import.meta.url)

// With `active: false` (environment only, as agent.start() below reads it) neither the loader hook nor
// import-in-the-middle is loaded: the agent then records nothing, and start() only keeps the configuration.
const { resolveConfig } = require('./config.js') as typeof import('./config.js')
const { Logger } = require('./logger.js') as typeof import('./logger.js')
const quiet = new Logger()
quiet.setLevel('off') // start() logs what is wrong with the configuration, once
const active = resolveConfig(undefined, process.env, quiet).active

// The message-channel variant: the loader intercepts only the modules the agent's Hook asks for (the registry's,
// less disabled instrumentations), and acknowledges them before this module finishes evaluating.
function registerLoaderHook (): (() => Promise<void>) | undefined {
  try {
    // The same import-in-the-middle instance lib/instrument.ts requires, so its Hook() reaches this channel.
    const iitm = require('import-in-the-middle') as {
      createAddHookMessageChannel (): { registerOptions: object, waitForAllMessagesAcknowledged (): Promise<void> }
    }
    const { registerOptions, waitForAllMessagesAcknowledged } = iitm.createAddHookMessageChannel()
    register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions)
    // Tells the agent's Loader to create its import-in-the-middle Hook (lib/instrument.ts, ESM_LOADER_REGISTERED).
    ;(globalThis as Record<symbol, unknown>)[Symbol.for('apm.esm-loader-registered')] = true
    return waitForAllMessagesAcknowledged
  } catch (err) {
    process.emitWarning(`apm: could not register the ESM loader hook (${String(err)}); modules loaded with import are not instrumented`)
    return undefined
  }
}

const hooksAcknowledged = active ? registerLoaderHook() : undefined

const agent = require('./index.js')
agent.start()

if (hooksAcknowledged !== undefined) await hooksAcknowledged()
