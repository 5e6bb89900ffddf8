// Process-level capture: uncaught exceptions and unhandled rejections, without changing how the process
// behaves (same stderr, same exit code, same --unhandled-rejections semantics). No signal handlers, and no
// 'uncaughtException' listener: that alone would change whether and how the process dies.

export type RejectionMode = 'throw' | 'strict' | 'warn' | 'none' | 'warn-with-error-code'

export interface CrashHooks {
  /** Record the error (handled: false) asynchronously, for a process that lives on. */
  capture (error: unknown): void
  /** Record the error and deliver everything queued before returning, within timeoutMs (the process dies next). */
  captureFatal (error: unknown, timeoutMs: number): void
}

const CRASH_FLUSH_MS = 1000

/** The mode Node runs with (`--unhandled-rejections`, from the command line or NODE_OPTIONS); default throw. */
export function rejectionMode (execArgv: string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): RejectionMode {
  const all = [...execArgv, ...nodeOptions.split(/\s+/)]
  for (let i = all.length - 1; i >= 0; i--) {
    const arg = all[i]!
    let value: string | undefined
    if (arg.startsWith('--unhandled-rejections=')) value = arg.slice('--unhandled-rejections='.length)
    else if (arg === '--unhandled-rejections') value = all[i + 1]
    if (value === 'throw' || value === 'strict' || value === 'warn' || value === 'none' || value === 'warn-with-error-code') return value
  }
  return 'throw'
}

/** Install the observers; returns the function that removes them. */
export function installCrashHandlers (hooks: CrashHooks): () => void {
  const mode = rejectionMode()

  // Runs before Node decides; in throw/strict mode unhandled rejections arrive here too. When the app has no
  // 'uncaughtException' listener the process dies right after this returns, so delivery must happen now.
  const onMonitor = (error: unknown): void => {
    try {
      if (process.listenerCount('uncaughtException') > 0) hooks.capture(error)
      else hooks.captureFatal(error, CRASH_FLUSH_MS)
    } catch {}
  }

  // warn / none: a listener changes nothing Node prints or returns, so it can observe directly.
  const onRejection = (reason: unknown): void => {
    try { hooks.capture(reason) } catch {}
  }

  // warn-with-error-code: a listener would suppress Node's warning and exit code, so observe the warning instead.
  const onWarning = (warning: Error): void => {
    try {
      if (warning?.name !== 'UnhandledPromiseRejectionWarning' || typeof warning.message !== 'string') return
      if (warning.message.startsWith('Unhandled promise rejection.')) return // Node's follow-up explanation
      hooks.capture(errorFromWarning(warning.message))
    } catch {}
  }

  process.on('uncaughtExceptionMonitor', onMonitor)
  if (mode === 'warn' || mode === 'none') process.on('unhandledRejection', onRejection)
  if (mode === 'warn-with-error-code') process.on('warning', onWarning)
  return () => {
    process.removeListener('uncaughtExceptionMonitor', onMonitor)
    process.removeListener('unhandledRejection', onRejection)
    process.removeListener('warning', onWarning)
  }
}

// The warning's message is the rejection reason's stack (for Errors) or its inspected value.
function errorFromWarning (message: string): Error {
  const firstLine = message.split('\n', 1)[0]!
  const m = /^([A-Za-z_$][\w$]*): ([\s\S]*)$/.exec(firstLine)
  const err = new Error(m === null ? firstLine : m[2])
  if (m !== null) err.name = m[1]!
  if (message.includes('\n    at ')) err.stack = message
  return err
}
