// Agent: the public API (start, transactions, spans, errors, flush, shutdown). Every method is a cheap no-op
// before start() and never throws into the app.
import { resolveConfig, type AgentOptions, type Config } from './config'
import { enter, storage } from './context'
import type { Exporter } from './export/exporter'
import { emptyStats, type AgentStats } from './export/stats'
import type { Loader } from './instrument'
import { logger } from './logger'
import type { Middleware } from './middleware'
import type { Recorder } from './recorder'
import type { AttributeValue, Span, Transaction } from './trace/span'
import { NameSource } from './tracer'
import type { PendingError } from './error-report'

import { AGENT_USER_AGENT_PREFIX, VERSION } from './version'

const SCOPE = { name: 'apm', version: VERSION }

export interface User {
  id?: string | number
  username?: string
  email?: string
}

export interface CaptureErrorParams {
  labels?: Record<string, AttributeValue>
  /** Who was affected (`user.id`, `user.name`, `user.email` on the error). */
  user?: User
  /** The request being handled (its method and path are recorded; never its query, headers or body). */
  request?: { method?: string, url?: string }
  handled?: boolean
}

/** Ids for log correlation (ECS field names), empty outside a transaction. */
export interface TraceIds {
  'trace.id'?: string
  'transaction.id'?: string
  'span.id'?: string
}

export class Agent {
  #started = false
  #config: Config | undefined
  #recorder: Recorder | undefined
  #exporter: Exporter | undefined
  #loader: Loader | undefined
  #exitFlushProduced = -1
  #uninstallCrashHandlers: (() => void) | undefined
  readonly #appRoot = process.cwd()
  // Errors waiting for their source context; emitted at once if the process is about to die.
  readonly #pendingErrors = new Set<PendingError>()

  #middleware: Middleware | undefined

  /** Explicit framework middleware: `app.use(agent.middleware.express())`; pass-through until start(). */
  get middleware (): Middleware {
    // Loaded on first use: it brings the express and koa instrumentations' code.
    return (this.#middleware ??= new (require('./middleware') as typeof import('./middleware')).Middleware(() => this.#recorder))
  }

  /** Start the agent. Never throws; a second call warns and returns the running agent. */
  start (options?: AgentOptions): this {
    if (this.#started) {
      logger.warn('start() called more than once; the agent is already running with its first configuration')
      return this
    }
    this.#started = true
    try {
      this.#start(options)
    } catch (err) {
      logger.error(`could not start: ${err instanceof Error ? err.stack ?? err.message : String(err)}; the app continues without apm`)
      this.#recorder?.deactivate()
      this.#recorder = undefined
    }
    return this
  }

  #start (options: AgentOptions | undefined): void {
    logger.setLevel(typeof options?.logLevel === 'string' && options.logLevel in { trace: 1, debug: 1, info: 1, warn: 1, error: 1, off: 1 } ? options.logLevel : 'info')
    const config = resolveConfig(options, process.env, logger)
    logger.setLevel(config.logLevel)
    this.#config = config
    if (!config.active) {
      logger.debug('active is false: apm records nothing')
      return
    }
    // The recording machinery loads only when active: `active: false` costs the configuration and nothing else.
    const { randomUUID } = require('node:crypto') as typeof import('node:crypto')
    const { hostname } = require('node:os') as typeof import('node:os')
    const { Exporter } = require('./export/exporter') as typeof import('./export/exporter')
    const { encodeResource } = require('./export/otlp') as typeof import('./export/otlp')
    const { Transport } = require('./export/transport') as typeof import('./export/transport')
    const { Recorder } = require('./recorder') as typeof import('./recorder')
    const { Loader } = require('./instrument') as typeof import('./instrument')
    const { instrumentations } = require('../instrumentations/index') as typeof import('../instrumentations/index')
    const { installCrashHandlers } = require('./crash') as typeof import('./crash')
    const headers: Record<string, string> = { ...config.headers }
    if (config.secretToken !== undefined) {
      if (insecureTokenTarget(config.serverUrl) && !config.allowInsecureToken) {
        logger.warn(`secretToken is not sent over plain http to a non-loopback host (${new URL(config.serverUrl).host}); use https or set allowInsecureToken`)
      } else {
        headers.authorization = 'Bearer ' + config.secretToken
      }
    }
    const transport = new Transport({
      serverUrl: config.serverUrl,
      headers,
      requestTimeoutMs: config.requestTimeoutMs,
      verifyServerCert: config.verifyServerCert,
      userAgent: `${AGENT_USER_AGENT_PREFIX}${VERSION} node/${process.versions.node}`
    })
    transport.warmUp()
    const resource: Record<string, AttributeValue> = {
      ...config.resourceAttributes,
      'service.name': config.serviceName,
      'service.instance.id': randomUUID(),
      'host.name': hostname(),
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
      'process.runtime.description': 'Node.js',
      'telemetry.sdk.name': 'apm',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': VERSION
    }
    if (config.serviceVersion !== undefined) resource['service.version'] = config.serviceVersion
    if (config.environment !== undefined) resource['deployment.environment.name'] = config.environment
    const exporter = new Exporter({
      maxQueueSize: config.maxQueueSize,
      maxBatchSize: config.maxBatchSize,
      flushIntervalMs: config.flushIntervalMs,
      requestTimeoutMs: config.requestTimeoutMs,
      maxBackoffMs: config.maxBackoffMs,
      maxRequestBytes: 4 * 1024 * 1024
    }, transport, logger, encodeResource(resource), SCOPE)
    const recorder = new Recorder(config, exporter, logger)
    recorder.setErrorHandler((error, opts) => {
      this.#report(error, opts?.handled ?? true, opts?.labels, opts?.span).catch(() => {})
    })
    this.#exporter = exporter
    this.#recorder = recorder
    this.#loader = new Loader(instrumentations, config.disableInstrumentations, recorder, logger)
    this.#loader.enable()
    process.on('beforeExit', this.#onBeforeExit)
    if (config.captureExceptions) {
      this.#uninstallCrashHandlers = installCrashHandlers({
        capture: (error) => { this.#report(error, false, undefined, undefined).catch(() => {}) },
        captureFatal: (error, timeoutMs) => this.#captureFatal(error, timeoutMs, headers, config)
      })
    }
    logger.debug(`started: service ${config.serviceName}, exporting to ${config.serverUrl}`)
  }

  // The loop is empty: send what is pending, with a 1 s deadline, once per batch of new data.
  readonly #onBeforeExit = (): void => {
    const exporter = this.#exporter
    if (exporter === undefined || exporter.idle) return
    const produced = exporter.stats().produced
    if (produced === this.#exitFlushProduced) return // tried already and nothing new arrived: let the process exit
    this.#exitFlushProduced = produced
    exporter.flush(1000, true).catch(() => {})
  }

  /** True once start() ran with `active` not false. */
  isStarted (): boolean {
    return this.#recorder !== undefined
  }

  /** The resolved configuration (undefined before start()). */
  get config (): Readonly<Config> | undefined {
    return this.#config
  }

  get currentTransaction (): Transaction | null {
    return this.#recorder === undefined ? null : storage.getStore()?.transaction ?? null
  }

  get currentSpan (): Span | null {
    if (this.#recorder === undefined) return null
    const span = storage.getStore()
    return span === undefined || span === span.transaction ? null : span
  }

  /** Ids of the current trace for log correlation. */
  currentTraceIds (): TraceIds {
    const span = this.#recorder === undefined ? undefined : storage.getStore()
    if (span === undefined) return {}
    const ids: TraceIds = { 'trace.id': span.traceId, 'transaction.id': span.transaction.id }
    if (span !== span.transaction) ids['span.id'] = span.id
    return ids
  }

  /**
   * Start a transaction (for jobs, scripts, consumers) and make it current for the rest of this async flow.
   * Returns null before start().
   */
  beginTransaction (name?: string, type?: string, options?: { traceparent?: string, tracestate?: string, startTime?: number }): Transaction | null {
    const recorder = this.#recorder
    if (recorder === undefined) return null
    try {
      const tx = recorder.startTransaction(safeName(name, 'unnamed'), safeName(type, 'custom'), {
        traceparent: options?.traceparent,
        tracestate: options?.tracestate,
        startTime: typeof options?.startTime === 'number' ? options.startTime : undefined
      })
      tx.nameSource = NameSource.USER
      enter(tx)
      return tx
    } catch (err) {
      logger.limited('error', 'api', `beginTransaction failed: ${String(err)}`)
      return null
    }
  }

  /** End the current transaction with an optional result (e.g. 'success'). */
  endTransaction (result?: string, endTime?: number): void {
    if (this.#recorder === undefined) return
    try {
      const tx = storage.getStore()?.transaction
      if (tx === undefined) return
      if (typeof result === 'string' && result !== '') tx.result = result.slice(0, 1024)
      tx.end(endTime)
      enter(undefined)
    } catch (err) {
      logger.limited('error', 'api', `endTransaction failed: ${String(err)}`)
    }
  }

  /**
   * Start a span under the current transaction or span and make it current until it ends.
   * Returns null outside a (sampled) transaction or beyond maxSpansPerTransaction.
   */
  startSpan (name?: string, type?: string): Span | null {
    const recorder = this.#recorder
    if (recorder === undefined) return null
    try {
      const span = recorder.startSpan(safeName(name, 'unnamed'), safeName(type, 'custom'))
      if (span === undefined) return null
      span.onEnd = restoreParent
      enter(span)
      return span
    } catch (err) {
      logger.limited('error', 'api', `startSpan failed: ${String(err)}`)
      return null
    }
  }

  /** Record an error (Error, string or anything thrown) with the current transaction. Never throws. */
  captureError (error: unknown, params?: CaptureErrorParams): void {
    const recorder = this.#recorder
    if (recorder === undefined) return
    let labels: Record<string, AttributeValue> | undefined
    let attributes: Record<string, AttributeValue> | undefined
    let handled = true
    try {
      labels = sanitizeLabels(params?.labels)
      if (params?.handled === false) handled = false
      attributes = errorAttributes(params?.user, params?.request)
    } catch {}
    this.#report(error, handled, labels, undefined, attributes).catch(() => {})
  }

  /** Set a label on the current transaction (`labels.<key>`). Returns whether it was set. */
  setLabel (key: string, value: AttributeValue): boolean {
    const tx = this.currentTransaction
    if (tx === null) return false
    try {
      const clean = sanitizeLabels({ [String(key)]: value })
      const [k, v] = Object.entries(clean)[0] ?? []
      if (k === undefined || v === undefined) return false
      tx.setAttribute('labels.' + k, v)
      return true
    } catch {
      return false
    }
  }

  /** Identify the user of the current transaction. */
  setUser (user: User): boolean {
    const tx = this.currentTransaction
    if (tx === null || user === null || typeof user !== 'object') return false
    try {
      if (typeof user.id === 'string' || typeof user.id === 'number') tx.setAttribute('user.id', String(user.id))
      if (typeof user.username === 'string') tx.setAttribute('user.name', user.username)
      if (typeof user.email === 'string') tx.setAttribute('user.email', user.email)
      return true
    } catch {
      return false
    }
  }

  /** Rename the current transaction; wins over names given by frameworks. */
  setTransactionName (name: string): boolean {
    const tx = this.currentTransaction
    if (tx === null || typeof name !== 'string' || name === '') return false
    this.#recorder?.setTransactionName(tx, name.slice(0, 1024), NameSource.USER)
    return true
  }

  /** Export counters: produced = queued + inFlight + delivered + dropped. */
  stats (): AgentStats {
    return this.#exporter?.stats() ?? emptyStats()
  }

  /** Send everything recorded so far. Always resolves, at the latest after timeoutMs (default requestTimeoutMs). */
  flush (timeoutMs?: number): Promise<void> {
    const exporter = this.#exporter
    if (exporter === undefined) return Promise.resolve()
    const deadline = typeof timeoutMs === 'number' && timeoutMs > 0 ? timeoutMs : this.#config!.requestTimeoutMs
    return exporter.flush(deadline).catch(() => {})
  }

  /** Flush, then stop recording and remove instrumentation. Always resolves. */
  async shutdown (timeoutMs?: number): Promise<void> {
    const exporter = this.#exporter
    if (exporter === undefined) return
    try {
      this.#recorder?.deactivate()
      this.#loader?.disable()
      process.removeListener('beforeExit', this.#onBeforeExit)
      this.#uninstallCrashHandlers?.()
      const deadline = typeof timeoutMs === 'number' && timeoutMs > 0 ? timeoutMs : this.#config!.requestTimeoutMs
      await exporter.close(deadline)
    } catch (err) {
      logger.limited('error', 'shutdown', `shutdown: ${String(err)}`)
    }
  }

  // The process dies when this returns: record the error without waiting for source context, end the
  // transaction it broke, and deliver everything queued synchronously (bounded by timeoutMs).
  #captureFatal (error: unknown, timeoutMs: number, headers: Record<string, string>, config: Config): void {
    const exporter = this.#exporter
    if (exporter === undefined) return
    const span = storage.getStore()
    for (const pending of this.#pendingErrors) pending.emitNow()
    this.#pendingErrors.clear()
    try {
      errorReport().reportError(error, false, undefined, { span }, this.#appRoot, (r) => exporter.pushLog(r), this.captureError).emitNow()
    } catch {}
    const tx = span?.transaction
    if (tx !== undefined && !tx.ended) {
      tx.result = 'crashed'
      tx.setError()
      tx.end()
    }
    const requests = exporter.drainSync()
    const { sendSync } = require('./export/sync-send') as typeof import('./export/sync-send')
    const sent = sendSync(config.serverUrl, {
      ...headers,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'user-agent': `${AGENT_USER_AGENT_PREFIX}${VERSION} node/${process.versions.node}`
    }, requests, timeoutMs, config.verifyServerCert)
    if (!sent) logger.warn('could not deliver the fatal error before the process exit')
  }

  // Record an error under span (default: the current one); resolves once it is queued. Never rejects.
  #report (error: unknown, handled: boolean, labels: Record<string, AttributeValue> | undefined, span: Span | undefined, attributes?: Record<string, AttributeValue>): Promise<void> {
    const exporter = this.#exporter
    if (exporter === undefined) return Promise.resolve()
    try {
      const pending = errorReport().reportError(error, handled, labels, { span: span ?? storage.getStore(), attributes }, this.#appRoot, (record) => exporter.pushLog(record), this.captureError)
      this.#pendingErrors.add(pending)
      return pending.done.then(() => { this.#pendingErrors.delete(pending) })
    } catch (err) {
      logger.limited('error', 'capture', `could not capture an error: ${String(err)}`)
      return Promise.resolve()
    }
  }
}

// Error capture (stack parsing, grouping, source maps) is loaded with the first error, not at start-up.
let errorReportModule: typeof import('./error-report') | undefined
function errorReport (): typeof import('./error-report') {
  return (errorReportModule ??= require('./error-report') as typeof import('./error-report'))
}

function restoreParent (span: Span): void {
  if (storage.getStore() === span) enter(span.parentSpan)
}

// user and request passed to captureError, as bounded attributes; anything odd is skipped.
function errorAttributes (user: User | undefined, request: { method?: string, url?: string } | undefined): Record<string, AttributeValue> | undefined {
  const out: Record<string, AttributeValue> = {}
  if (user !== null && typeof user === 'object') {
    if (typeof user.id === 'string' || typeof user.id === 'number') out['user.id'] = String(user.id).slice(0, 256)
    if (typeof user.username === 'string') out['user.name'] = user.username.slice(0, 256)
    if (typeof user.email === 'string') out['user.email'] = user.email.slice(0, 256)
  }
  if (request !== null && typeof request === 'object') {
    if (typeof request.method === 'string') out['http.request.method'] = request.method.slice(0, 32)
    if (typeof request.url === 'string') out['url.path'] = request.url.split('?', 1)[0]!.slice(0, 1024)
  }
  return Object.keys(out).length === 0 ? undefined : out
}

function safeName (value: unknown, fallback: string): string {
  if (typeof value !== 'string' || value === '') return fallback
  return value.length > 1024 ? value.slice(0, 1024) : value
}

function sanitizeLabels (labels: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {}
  if (labels === null || typeof labels !== 'object') return out
  let n = 0
  for (const key of Object.keys(labels)) {
    if (n++ >= 64) break
    let value: unknown
    try { value = (labels as Record<string, unknown>)[key] } catch { continue }
    const k = key.slice(0, 128)
    if (typeof value === 'string') out[k] = value.slice(0, 1024)
    else if (typeof value === 'number' && Number.isFinite(value)) out[k] = value
    else if (typeof value === 'boolean') out[k] = value
  }
  return out
}

function insecureTokenTarget (serverUrl: string): boolean {
  const url = new URL(serverUrl)
  if (url.protocol === 'https:') return false
  const host = url.hostname
  return !(host === 'localhost' || host === '[::1]' || host === '::1' || host.startsWith('127.'))
}
