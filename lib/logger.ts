// The agent's own log: one line per event on stderr, by level, with per-key rate limiting.

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, off: 100 } as const
export type LogLevel = keyof typeof LEVELS

export class Logger {
  #level: number = LEVELS.info
  #lastByKey = new Map<string, number>()

  setLevel (level: LogLevel): void {
    this.#level = LEVELS[level]
  }

  enabled (level: LogLevel): boolean {
    return LEVELS[level] >= this.#level
  }

  log (level: Exclude<LogLevel, 'off'>, message: string): void {
    if (LEVELS[level] < this.#level) return
    try {
      process.stderr.write(`apm ${level}: ${message}\n`)
    } catch {
      // stderr closed: nothing sensible left to do, and the app must not notice.
    }
  }

  trace (message: string): void { this.log('trace', message) }
  debug (message: string): void { this.log('debug', message) }
  info (message: string): void { this.log('info', message) }
  warn (message: string): void { this.log('warn', message) }
  error (message: string): void { this.log('error', message) }

  /**
   * Log at most once per intervalMs for key (Infinity: once per process). Returns whether it logged,
   * so callers can count what they suppressed.
   */
  limited (level: Exclude<LogLevel, 'off'>, key: string, message: string, intervalMs = 60_000): boolean {
    const now = Date.now()
    const last = this.#lastByKey.get(key)
    if (last !== undefined && (intervalMs === Infinity || now - last < intervalMs)) return false
    if (this.#lastByKey.size > 1000) this.#lastByKey.clear()
    this.#lastByKey.set(key, now)
    this.log(level, message)
    return true
  }
}

export const logger = new Logger()
