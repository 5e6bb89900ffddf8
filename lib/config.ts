// Configuration: defaults < environment (APM_*, OTEL_*) < options; each bad value logs one line and falls back.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { LEVELS, type LogLevel, type Logger } from './logger'
import { DEFAULT_SENSITIVE_HEADER_PATTERNS } from './sanitize'

/** Options accepted by `agent.start()`. Each maps 1:1 to an environment variable (see README). */
export interface AgentOptions {
  /** Service name (`APM_SERVICE_NAME`, then `OTEL_SERVICE_NAME`, then the app's package.json name). */
  serviceName?: string
  /** Release of the service (`APM_SERVICE_VERSION`, default: the app's package.json version). */
  serviceVersion?: string
  /** Deployment environment (`APM_ENVIRONMENT`, default `NODE_ENV`). */
  environment?: string
  /** OTLP/HTTP endpoint base URL (`APM_SERVER_URL` or `OTEL_EXPORTER_OTLP_ENDPOINT`). */
  serverUrl?: string
  /** Sent as `Authorization: Bearer <secretToken>` (`APM_SECRET_TOKEN`). */
  secretToken?: string
  /** Extra export headers (`APM_HEADERS` or `OTEL_EXPORTER_OTLP_HEADERS`, `k=v,k2=v2`). */
  headers?: Record<string, string>
  /** Extra resource attributes (`APM_RESOURCE_ATTRIBUTES` or `OTEL_RESOURCE_ATTRIBUTES`). */
  resourceAttributes?: Record<string, string>
  /** false makes every call a no-op (`APM_ACTIVE`; `OTEL_SDK_DISABLED=true` also disables). */
  active?: boolean
  /** Share of transactions recorded, 0..1 (`APM_TRANSACTION_SAMPLE_RATE`). */
  transactionSampleRate?: number
  /** Record request/response headers on transactions, sensitive ones redacted (`APM_CAPTURE_HEADERS`). */
  captureHeaders?: boolean
  /** Header / query-parameter names whose values are redacted (`APM_SANITIZE_FIELD_NAMES`). */
  sanitizeFieldNames?: string[]
  /** Capture uncaught exceptions and unhandled rejections (`APM_CAPTURE_EXCEPTIONS`). */
  captureExceptions?: boolean
  /** Instrumentation ids not to load, e.g. `['pg']` (`APM_DISABLE_INSTRUMENTATIONS`). */
  disableInstrumentations?: string[]
  /** Longest wait between exports (`APM_FLUSH_INTERVAL_MS`). */
  flushIntervalMs?: number
  /** Events waiting for export before new ones are dropped (`APM_MAX_QUEUE_SIZE`). */
  maxQueueSize?: number
  /** Events per export request (`APM_MAX_BATCH_SIZE`). */
  maxBatchSize?: number
  /** Deadline of one export request (`APM_REQUEST_TIMEOUT_MS`). */
  requestTimeoutMs?: number
  /** Retry back-off cap (`APM_MAX_BACKOFF_MS`). */
  maxBackoffMs?: number
  /** Attributes per span (`APM_MAX_ATTRIBUTES`). */
  maxAttributes?: number
  /** Characters per attribute value (`APM_MAX_ATTRIBUTE_LENGTH`). */
  maxAttributeLength?: number
  /** Spans recorded per transaction; the rest are counted (`APM_MAX_SPANS_PER_TRANSACTION`). */
  maxSpansPerTransaction?: number
  /** Verify the collector's TLS certificate (`APM_VERIFY_SERVER_CERT`). */
  verifyServerCert?: boolean
  /** Allow sending secretToken over plain http to a non-loopback host (`APM_ALLOW_INSECURE_TOKEN`). */
  allowInsecureToken?: boolean
  /** trace | debug | info | warn | error | off (`APM_LOG_LEVEL`). */
  logLevel?: LogLevel
}

export interface Config {
  serviceName: string
  serviceVersion: string | undefined
  environment: string | undefined
  serverUrl: string
  secretToken: string | undefined
  headers: Record<string, string>
  resourceAttributes: Record<string, string>
  active: boolean
  transactionSampleRate: number
  captureHeaders: boolean
  sanitizeFieldNames: readonly string[]
  captureExceptions: boolean
  disableInstrumentations: string[]
  flushIntervalMs: number
  maxQueueSize: number
  maxBatchSize: number
  requestTimeoutMs: number
  maxBackoffMs: number
  maxAttributes: number
  maxAttributeLength: number
  maxSpansPerTransaction: number
  verifyServerCert: boolean
  allowInsecureToken: boolean
  logLevel: LogLevel
}

type Kind = 'string' | 'boolean' | 'number' | 'int' | 'url' | 'list' | 'map' | 'level'

interface OptionSpec {
  kind: Kind
  /** Default; functions are evaluated lazily (package.json look-ups). */
  default: unknown
  min?: number
  max?: number
  /** Extra environment variables read when APM_<NAME> is not set, in order. */
  aliases?: string[]
  /** Never echo this value in log lines. */
  secret?: boolean
  /** One-line description for the README table. */
  doc: string
}

/** Every option, its kind, default and documentation: the README's configuration table is built from this. */
export const OPTIONS: Record<keyof Config, OptionSpec> = {
  serviceName: { kind: 'string', default: undefined, aliases: ['OTEL_SERVICE_NAME'], doc: "Service name; falls back to the app's package.json `name`" },
  serviceVersion: { kind: 'string', default: undefined, doc: "Release (`service.version`); falls back to the app's package.json `version`" },
  environment: { kind: 'string', default: undefined, aliases: ['NODE_ENV'], doc: 'Deployment environment (`deployment.environment.name`)' },
  serverUrl: { kind: 'url', default: 'http://127.0.0.1:4318', aliases: ['OTEL_EXPORTER_OTLP_ENDPOINT'], doc: 'OTLP/HTTP base URL; `/v1/traces` and `/v1/logs` are appended' },
  secretToken: { kind: 'string', default: undefined, secret: true, doc: 'Sent as `Authorization: Bearer …`' },
  headers: { kind: 'map', default: {}, aliases: ['OTEL_EXPORTER_OTLP_HEADERS'], secret: true, doc: 'Extra export headers, `k=v,k2=v2`' },
  resourceAttributes: { kind: 'map', default: {}, aliases: ['OTEL_RESOURCE_ATTRIBUTES'], doc: 'Extra resource attributes, `k=v,k2=v2`' },
  active: { kind: 'boolean', default: true, doc: '`false` turns every call into a no-op (`OTEL_SDK_DISABLED=true` too)' },
  transactionSampleRate: { kind: 'number', default: 1, min: 0, max: 1, doc: 'Share of transactions recorded (0..1); trace context is propagated either way' },
  captureHeaders: { kind: 'boolean', default: false, doc: 'Record HTTP headers (sensitive values `[REDACTED]`)' },
  sanitizeFieldNames: { kind: 'list', default: DEFAULT_SENSITIVE_HEADER_PATTERNS, doc: 'Header name patterns whose values are `[REDACTED]` (substring match; `*` makes a glob)' },
  captureExceptions: { kind: 'boolean', default: true, doc: 'Capture uncaught exceptions and unhandled rejections' },
  disableInstrumentations: { kind: 'list', default: [], doc: 'Instrumentation ids not to load, e.g. `pg,koa`' },
  flushIntervalMs: { kind: 'int', default: 1000, min: 10, max: 600_000, doc: 'Longest wait between exports (ms)' },
  maxQueueSize: { kind: 'int', default: 2048, min: 1, max: 1_000_000, doc: 'Events waiting for export; when full the newest is dropped and counted' },
  maxBatchSize: { kind: 'int', default: 512, min: 1, max: 100_000, doc: 'Events per export request' },
  requestTimeoutMs: { kind: 'int', default: 10_000, min: 100, max: 600_000, doc: 'Deadline of one export request (ms)' },
  maxBackoffMs: { kind: 'int', default: 30_000, min: 10, max: 600_000, doc: 'Cap of the retry back-off (ms)' },
  maxAttributes: { kind: 'int', default: 128, min: 1, max: 10_000, doc: 'Attributes per span' },
  maxAttributeLength: { kind: 'int', default: 8192, min: 16, max: 1_048_576, doc: 'Characters per attribute value' },
  maxSpansPerTransaction: { kind: 'int', default: 500, min: 0, max: 100_000, doc: 'Spans per transaction; the rest are counted as dropped' },
  verifyServerCert: { kind: 'boolean', default: true, doc: "Verify the collector's TLS certificate" },
  allowInsecureToken: { kind: 'boolean', default: false, doc: 'Allow `secretToken` over plain http to a non-loopback host' },
  logLevel: { kind: 'level', default: 'info', doc: '`trace`, `debug`, `info`, `warn`, `error` or `off`' }
}

/** `serverUrl` → `APM_SERVER_URL`. */
export function envName (key: string): string {
  return 'APM_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()
}

/**
 * Build the configuration. Never throws: every invalid value produces one log line naming the
 * option, the value and what is expected, and the next source (or the default) is used instead.
 */
export function resolveConfig (options: unknown, env: NodeJS.ProcessEnv, log: Logger): Config {
  const opts: Record<string, unknown> = isPlainObject(options) ? options : {}
  if (options !== undefined && options !== null && !isPlainObject(options)) {
    log.warn(`start(options): expected an object, got ${describe(options)}; using environment and defaults`)
  }
  for (const key of Object.keys(opts)) {
    if (!(key in OPTIONS)) log.warn(`unknown option "${key}" ignored`)
  }
  const config: Record<string, unknown> = {}
  for (const key of Object.keys(OPTIONS) as Array<keyof Config>) {
    const spec = OPTIONS[key]
    let value: unknown
    // Options beat the environment, which beats defaults; an invalid source falls through to the next.
    if (opts[key] !== undefined) value = coerce(key, spec, opts[key], 'option', log)
    if (value === undefined) {
      for (const name of [envName(key), ...(spec.aliases ?? [])]) {
        const raw = env[name]
        if (raw === undefined || raw === '') continue
        value = coerce(key, spec, raw, name, log)
        if (value !== undefined) break
      }
    }
    config[key] = value === undefined ? spec.default : value
  }
  const result = config as unknown as Config
  if (opts.active === undefined && env.APM_ACTIVE === undefined && /^true$/i.test(env.OTEL_SDK_DISABLED ?? '')) result.active = false
  const pkg = readAppPackage()
  const resource = result.resourceAttributes
  result.serviceName ??= resource['service.name'] ?? pkg?.name ?? 'unknown_service:node'
  result.serviceVersion ??= resource['service.version'] ?? pkg?.version
  result.environment ??= resource['deployment.environment.name'] ?? resource['deployment.environment']
  result.serverUrl = result.serverUrl.replace(/\/+$/, '')
  return result
}

function coerce (key: string, spec: OptionSpec, value: unknown, source: string, log: Logger): unknown {
  const fromEnv = typeof value === 'string' && source !== 'option'
  const bad = (expected: string): undefined => {
    const shown = spec.secret === true ? '[REDACTED]' : describe(value)
    log.warn(`invalid ${key} ${shown} (from ${source === 'option' ? 'start() options' : source}): expected ${expected}; using ${source === 'option' ? 'the environment or default' : 'the default'}`)
    return undefined
  }
  switch (spec.kind) {
    case 'string':
      if (typeof value === 'string' && value.trim() !== '') return value.trim()
      if (typeof value === 'number' && Number.isFinite(value)) return String(value)
      return bad('a non-empty string')
    case 'boolean':
      if (typeof value === 'boolean') return value
      if (fromEnv || typeof value === 'string') {
        const v = String(value).trim().toLowerCase()
        if (v === 'true' || v === '1' || v === 'yes' || v === 'on') return true
        if (v === 'false' || v === '0' || v === 'no' || v === 'off') return false
      }
      return bad('true or false')
    case 'number':
    case 'int': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
      const range = `${spec.min ?? '-∞'}..${spec.max ?? '∞'}`
      if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) return bad(`${spec.kind === 'int' ? 'an integer' : 'a number'} in ${range}`)
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return bad(`a value in ${range}`)
      return n
    }
    case 'url': {
      if (typeof value !== 'string') return bad('an http(s) URL')
      try {
        const url = new URL(value.trim())
        if (url.protocol !== 'http:' && url.protocol !== 'https:') return bad('an http(s) URL')
        if (url.username !== '' || url.password !== '') return bad('a URL without credentials (use secretToken)')
        url.search = ''
        url.hash = ''
        return url.href
      } catch {
        return bad('an http(s) URL')
      }
    }
    case 'list':
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map((v) => v.trim()).filter(Boolean)
      if (typeof value === 'string') return value.split(',').map((v) => v.trim()).filter(Boolean)
      return bad('a list of strings (comma-separated in the environment)')
    case 'map': {
      if (isPlainObject(value)) {
        const out: Record<string, string> = {}
        for (const [k, v] of Object.entries(value)) {
          if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v)
        }
        return out
      }
      if (typeof value === 'string') {
        const out: Record<string, string> = {}
        for (const pair of value.split(',')) {
          const eq = pair.indexOf('=')
          if (eq <= 0) continue
          try {
            out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim())
          } catch {
            return bad('k=v pairs, comma-separated, URL-encoded')
          }
        }
        return out
      }
      return bad('an object of string values or k=v,k2=v2')
    }
    case 'level':
      if (typeof value === 'string' && value.trim().toLowerCase() in LEVELS) return value.trim().toLowerCase()
      return bad(Object.keys(LEVELS).join(' | '))
  }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function describe (value: unknown): string {
  try {
    if (typeof value === 'string') return JSON.stringify(value.length > 100 ? value.slice(0, 100) + '…' : value)
    if (typeof value === 'bigint') return `${value}n`
    if (typeof value === 'symbol' || typeof value === 'function') return typeof value
    return String(JSON.stringify(value) ?? typeof value).slice(0, 100)
  } catch {
    return typeof value
  }
}

interface PackageInfo { name?: string, version?: string }

// The app's package.json: nearest to the main script, else to the working directory. Read once at start.
function readAppPackage (): PackageInfo | undefined {
  const starts = [process.argv[1] ? dirname(process.argv[1]) : undefined, process.cwd()]
  for (const start of starts) {
    if (start === undefined) continue
    let dir = start
    for (let i = 0; i < 20; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
        // A nameless package.json (e.g. one that only sets "type") is skipped on the way up.
        if (pkg !== null && typeof pkg === 'object' && typeof pkg.name === 'string' && pkg.name !== '') {
          return {
            name: pkg.name,
            version: typeof pkg.version === 'string' && pkg.version !== '' ? pkg.version : undefined
          }
        }
      } catch {}
      const up = dirname(dir)
      if (up === dir) break
      dir = up
    }
  }
  return undefined
}
