// node:http / node:https: a SERVER transaction per incoming request, a CLIENT span per outgoing request.
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http'
import { errorMonitor } from 'node:events'
import { defineInstrumentation, type Target } from '../lib/instrument'
import type { StartTransactionOptions, Tracer } from '../lib/tracer'
import { SpanKind, type Span, type Transaction } from '../lib/trace/span'
import { unwrap, wrap } from '../lib/wrap'
import { AGENT_USER_AGENT_PREFIX } from '../lib/version'
import { httpMethod } from '../lib/semconv'
import { isSensitiveName, redactUrl, REDACTED_HEADER_VALUE } from '../lib/sanitize'
import { HTTP, HTTPS } from './targets'

const kTransaction = Symbol('apm.transaction')
const kSpan = Symbol('apm.span')

type TracedResponse = ServerResponse & { [kTransaction]?: Transaction }
type TracedRequest = ClientRequest & { [kSpan]?: Span }

function pathOf (url: string | undefined): string {
  if (url === undefined || url === '') return '/'
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

// A server mostly sees one Host header value (and a client one origin): the last split is reused. The returned
// pair is shared, so callers only read it.
let lastHost = ''
let lastSplit: [string, number | undefined] = ['', undefined]

function splitHost (host: string): [string, number | undefined] {
  if (host === lastHost) return lastSplit
  const split = parseHost(host)
  lastHost = host
  lastSplit = split
  return split
}

function parseHost (host: string): [string, number | undefined] {
  // [v6]:port, host:port, host
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    const port = host.slice(end + 2)
    return [host.slice(1, end), port === '' ? undefined : Number(port)]
  }
  const colon = host.lastIndexOf(':')
  if (colon === -1 || host.indexOf(':') !== colon) return [host, undefined]
  const port = Number(host.slice(colon + 1))
  return [host.slice(0, colon), Number.isInteger(port) ? port : undefined]
}

// An OTLP receiver running in an instrumented process must not trace the agent's own exports (a feedback loop).
function isAgentExport (req: IncomingMessage): boolean {
  const ua = req.headers['user-agent']
  return typeof ua === 'string' && ua.startsWith(AGENT_USER_AGENT_PREFIX)
}

// ---- server side --------------------------------------------------------------------------------

const txOptions: StartTransactionOptions = { kind: SpanKind.SERVER, traceparent: undefined, tracestate: undefined }

function patchServer (proto: { emit: (...args: any[]) => boolean }, tracer: Tracer, scheme: 'http' | 'https'): void {
  wrap(proto, 'emit', (emit) => function (this: unknown, event: string, req: IncomingMessage, res: TracedResponse) {
    if (event !== 'request' || !tracer.active || res === undefined || res[kTransaction] !== undefined || isAgentExport(req)) {
      return emit.apply(this, arguments as unknown as unknown[])
    }
    const tx = traceIncomingRequest(tracer, req, res, scheme)
    return tracer.applyWithSpan(tx, emit, this, arguments)
  })
}

/**
 * Start the SERVER transaction of an incoming request, record its attributes and end it when the response closes.
 * Also used by the explicit framework middleware when node:http itself is not instrumented.
 */
export function traceIncomingRequest (tracer: Tracer, req: IncomingMessage, res: TracedResponse, scheme: 'http' | 'https'): Transaction {
  const headers = req.headers
  const rawMethod = req.method ?? 'GET'
  const method = httpMethod(rawMethod)
  const path = pathOf(req.url)
  // One options object for every request: startTransaction reads it and keeps nothing.
  txOptions.traceparent = headers.traceparent
  txOptions.tracestate = headers.tracestate
  const tx = tracer.startTransaction(method + ' ' + path, 'request', txOptions)
  txOptions.traceparent = txOptions.tracestate = undefined
  res[kTransaction] = tx
  if (tx.sampled) {
    tx.setAttribute('http.request.method', method)
    if (method === '_OTHER') tx.setAttribute('http.request.method_original', rawMethod)
    tx.setAttribute('url.path', path)
    tx.setAttribute('url.scheme', scheme)
    const host = headers.host
    if (host !== undefined) {
      const [address, port] = splitHost(host)
      tx.setAttribute('server.address', address)
      if (port !== undefined) tx.setAttribute('server.port', port)
    }
    tx.setAttribute('network.protocol.version', req.httpVersion)
    tx.setAttribute('user_agent.original', headers['user-agent'])
    const forwarded = headers['x-forwarded-for']
    tx.setAttribute('client.address', typeof forwarded === 'string' && forwarded !== ''
      ? forwarded.split(',', 1)[0]!.trim()
      : req.socket?.remoteAddress)
    if (tracer.config.captureHeaders) recordHeaders(tx, 'http.request.header.', headers, tracer.config.sanitizeFieldNames)
  }
  // 'close' follows 'finish' on every response and also fires when the client went away first.
  res.on('close', onResponseClose)
  return tx
}

// Always redacted, whatever sanitizeFieldNames says: a custom list must not expose credentials by omission.
const ALWAYS_REDACTED = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie'])

// Headers whose values are URLs: their credentials and sensitive query values are redacted like url.full.
const URL_HEADERS = new Set(['referer', 'location', 'content-location', 'origin'])

// Header values as semantic conventions want them (string arrays), sensitive names redacted.
function recordHeaders (span: Span, prefix: string, headers: Record<string, string | string[] | number | undefined>, sensitive: readonly string[]): void {
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    const key = prefix + lower
    if (ALWAYS_REDACTED.has(lower) || isSensitiveName(name, sensitive)) span.setAttribute(key, [REDACTED_HEADER_VALUE])
    else if (URL_HEADERS.has(lower)) span.setAttribute(key, (Array.isArray(value) ? value : [String(value)]).map((v) => redactUrl(v)))
    else span.setAttribute(key, Array.isArray(value) ? value : [String(value)])
  }
}

// Transaction results by status class, as constants (no string built per request).
const RESULTS = ['HTTP 0xx', 'HTTP 1xx', 'HTTP 2xx', 'HTTP 3xx', 'HTTP 4xx', 'HTTP 5xx', 'HTTP 6xx', 'HTTP 7xx', 'HTTP 8xx', 'HTTP 9xx']

function onResponseClose (this: TracedResponse): void {
  const tx = this[kTransaction]
  if (tx === undefined) return
  if (!tx.sampled) {
    tx.end()
    return
  }
  const status = this.statusCode
  // writableFinished is a getter walking the socket's state: read once.
  const finished = this.writableFinished
  if (finished || this.headersSent) {
    tx.setAttribute('http.response.status_code', status)
    const config = tx.sink.config
    if (config.captureHeaders) recordHeaders(tx, 'http.response.header.', this.getHeaders(), config.sanitizeFieldNames)
  }
  if (!finished) {
    // The client closed the connection before the response was complete.
    tx.result = 'aborted'
    tx.setAttribute('apm.aborted', true)
  } else {
    tx.result = RESULTS[Math.floor(status / 100)] ?? 'HTTP ' + Math.floor(status / 100) + 'xx'
    if (status >= 500) tx.setError()
  }
  tx.end()
}

// ---- client side --------------------------------------------------------------------------------

function patchClient (mod: any, tracer: Tracer, defaultPort: number): void {
  wrap(mod, 'request', (request) => function (this: unknown) {
    const req = request.apply(this, arguments as unknown as unknown[]) as TracedRequest
    if (tracer.active) traceClientRequest(req, tracer, defaultPort)
    return req
  })
  // http.get calls the module-internal request(), so it is rebuilt on top of the wrapped one (as Node does it).
  const patchedRequest = mod.request
  wrap(mod, 'get', () => function (this: unknown) {
    const req = patchedRequest.apply(this, arguments) as ClientRequest
    req.end()
    return req
  })
}

function traceClientRequest (req: TracedRequest, tracer: Tracer, defaultPort: number): void {
  const parent = tracer.currentSpan()
  if (parent === undefined || req === null || typeof req !== 'object') return
  try {
    const method = req.method ?? 'GET'
    const hostHeader = req.getHeader('host')
    const [address, headerPort] = typeof hostHeader === 'string' ? splitHost(hostHeader) : [req.host, undefined]
    const port = headerPort ?? defaultPort
    const span = tracer.startSpan(method + ' ' + address + (headerPort === undefined ? '' : ':' + headerPort), 'external', { kind: SpanKind.CLIENT })
    // Context travels even when the span is not recorded (unsampled or over the limit).
    if (!req.headersSent && req.getHeader('traceparent') === undefined) {
      req.setHeader('traceparent', tracer.traceparent(span ?? parent))
      const traceState = parent.transaction.traceState
      if (traceState !== undefined && req.getHeader('tracestate') === undefined) req.setHeader('tracestate', traceState)
    }
    if (span === undefined) return
    span.setAttribute('http.request.method', httpMethod(method))
    span.setAttribute('server.address', address)
    span.setAttribute('server.port', port)
    span.setAttribute('url.full', redactUrl(req.protocol + '//' + (hostHeader ?? address) + req.path))
    req[kSpan] = span
    req.on(errorMonitor, onClientError)
    req.on('close', onClientClose)
  } catch (err) {
    tracer.log.limited('debug', 'http-client', `outgoing http request not traced: ${String(err)}`)
  }
}

function onClientError (this: TracedRequest, err: Error): void {
  const span = this[kSpan]
  if (span === undefined) return
  span.setAttribute('error.type', (err as NodeJS.ErrnoException)?.code ?? err?.name ?? 'Error')
  span.setError(err?.message)
}

function onClientClose (this: TracedRequest): void {
  const span = this[kSpan]
  if (span === undefined) return
  const res = (this as { res?: IncomingMessage | null }).res
  const status = res?.statusCode
  if (status !== undefined) {
    span.setAttribute('http.response.status_code', status)
    if (status >= 400) {
      span.setAttribute('error.type', String(status))
      span.setError()
    }
  } else if (span.statusCode === 0) {
    span.setAttribute('error.type', 'aborted')
    span.setError('request closed before a response arrived')
  }
  span.end()
}

function target (modules: typeof HTTP | typeof HTTPS, scheme: 'http' | 'https', defaultPort: number): Target {
  return {
    ...modules,
    patch (mod, { tracer }) {
      patchServer(mod.Server.prototype, tracer, scheme)
      patchClient(mod, tracer, defaultPort)
    },
    unpatch (mod) {
      unwrap(mod.Server.prototype, 'emit')
      unwrap(mod, 'request')
      unwrap(mod, 'get')
    }
  }
}

export default defineInstrumentation({
  id: 'http',
  targets: [target(HTTP, 'http', 80), target(HTTPS, 'https', 443)]
})
