// Node's global fetch and the undici package: a CLIENT span per request from undici's diagnostics channels
// (subscribed, never patched) and W3C trace context injected into the outgoing headers.
import { AsyncResource } from 'node:async_hooks'
import type * as DiagnosticsChannel from 'node:diagnostics_channel'
import { defineInstrumentation } from '../lib/instrument'
import type { Tracer } from '../lib/tracer'
import { SpanKind, type Span } from '../lib/trace/span'
import { redactUrl } from '../lib/sanitize'
import { httpMethod } from '../lib/semconv'
import { UNDICI } from './targets'

// undici publishes on these by name, Node's bundled copy (global fetch) and the npm package alike, so one
// subscription covers both. Each is published only while it has a subscriber (`hasSubscribers`), so after
// unpatch the requests cost nothing.
const CREATE = 'undici:request:create'
const HEADERS = 'undici:request:headers'
const TRAILERS = 'undici:request:trailers'
const ERROR = 'undici:request:error'

// The fields of undici's internal Request that we read (undici@5 to @7, and the copy bundled in Node).
interface UndiciRequest {
  origin?: string | URL
  method?: string
  path?: string
  /** undici@6+: [name, value, name, value, …]; undici@5: 'name: value\r\n…'. */
  headers?: unknown
  addHeader?: (name: string, value: string) => unknown
}

interface CreateMessage { request: UndiciRequest }
interface HeadersMessage { request: UndiciRequest, response: { statusCode: number } }
interface ErrorMessage { request: UndiciRequest, error: unknown }

// The span of each request in flight. headers/trailers/error are published from socket callbacks, whose
// async context is whatever request opened the connection, so the span is found from the request object.
const spans = new WeakMap<object, Span>()

interface Origin {
  /** `scheme://host[:port]`, as url.full starts. */
  origin: string
  address: string
  port: number
  /** host[:port] for the span name: the port only when the origin states one. */
  display: string
}

// A process talks to few origins: parse each once. Bounded so an app calling many hosts keeps bounded memory.
const origins = new Map<string, Origin | null>()
const MAX_ORIGINS = 256

function parseOrigin (raw: string | URL | undefined): Origin | null {
  const key = typeof raw === 'string' ? raw : raw instanceof URL ? raw.origin : undefined
  if (key === undefined) return null
  let parsed = origins.get(key)
  if (parsed !== undefined) return parsed
  try {
    const url = new URL(key)
    // URL keeps the brackets of an IPv6 hostname; server.address is the bare address.
    const address = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
    parsed = { origin: url.origin === 'null' ? key : url.origin, address, port, display: url.host }
  } catch {
    parsed = null
  }
  if (origins.size >= MAX_ORIGINS) origins.clear()
  origins.set(key, parsed)
  return parsed
}

// undici keeps the dispatch handler under a module-private `Symbol('handler')`; found once per Request class
// (Node's bundled copy and the npm package each have their own).
const handlerKeys = new WeakMap<object, symbol | null>()

function handlerOf (request: object): unknown {
  const proto = Object.getPrototypeOf(request) as object | null
  if (proto === null) return undefined
  let key = handlerKeys.get(proto)
  if (key === undefined) {
    key = Object.getOwnPropertySymbols(request).find((s) => s.description === 'handler') ?? null
    handlerKeys.set(proto, key)
  }
  return key === null ? undefined : (request as Record<symbol, unknown>)[key]
}

function hasHeader (headers: unknown, name: string): boolean {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const key = headers[i]
      if (typeof key === 'string' && key.length === name.length && key.toLowerCase() === name) return true
    }
    return false
  }
  if (typeof headers === 'string') {
    // undici@5 keeps the serialised header block.
    const lower = headers.toLowerCase()
    return lower.startsWith(name + ':') || lower.includes('\r\n' + name + ':')
  }
  return false
}

function errorType (error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const code = (error as { code?: unknown }).code
    // DOMException (AbortError) has a numeric code; its name is the useful part.
    if (typeof code === 'string' && code !== '') return code
    const name = (error as { name?: unknown }).name
    if (typeof name === 'string' && name !== '') return name
  }
  return 'Error'
}

function errorMessage (error: unknown): string | undefined {
  if (error !== null && typeof error === 'object') {
    const message = (error as { message?: unknown }).message
    if (typeof message === 'string') return message
  }
  return undefined
}

// ---- subscribers ---------------------------------------------------------------------------------------

class FetchTracer {
  readonly #tracer: Tracer

  constructor (tracer: Tracer) {
    this.#tracer = tracer
  }

  readonly #currentSpan = (): Span | undefined => this.#tracer.currentSpan()

  // The span current where the app made the request. request:create is published synchronously from
  // dispatch(), in the caller's async context; except when a connection-limited Pool queues the request and
  // creates it later, from a callback another request scheduled. undici's request/stream/pipeline handlers are
  // AsyncResources made in the caller's context (undici@5 to @7), so their scope is the caller's in every case.
  // fetch's handler is a plain object: a fetch queued by such a Pool (`dispatcher: new Pool(url, { connections })`)
  // takes the context of the request that freed the connection (a known limit; the default dispatcher never queues).
  #callerSpan (request: object): Span | undefined {
    const handler = handlerOf(request)
    return handler instanceof AsyncResource
      ? handler.runInAsyncScope(this.#currentSpan)
      : this.#tracer.currentSpan()
  }

  readonly onCreate = (message: unknown): void => {
    const tracer = this.#tracer
    if (!tracer.active) return
    const request = (message as CreateMessage).request
    const parent = this.#callerSpan(request)
    // Outside a transaction (and for the agent's own exports, which run outsideTrace) nothing happens.
    if (parent === undefined) return
    try {
      const origin = parseOrigin(request.origin)
      if (origin === null) return
      const rawMethod = typeof request.method === 'string' ? request.method : 'GET'
      const method = httpMethod(rawMethod)
      const span = tracer.startSpan(method + ' ' + origin.display, 'external', { kind: SpanKind.CLIENT, parent })
      if (span !== undefined) {
        span.setAttribute('http.request.method', method)
        if (method === '_OTHER') span.setAttribute('http.request.method_original', rawMethod)
        span.setAttribute('server.address', origin.address)
        span.setAttribute('server.port', origin.port)
        span.setAttribute('url.full', redactUrl(origin.origin + (typeof request.path === 'string' ? request.path : '/')))
        spans.set(request, span) // before injecting: the span ends with the request whatever happens below
      }
      // Context travels even when the span is not recorded (unsampled or over the limit): the parent's id.
      if (typeof request.addHeader === 'function' && !hasHeader(request.headers, 'traceparent')) {
        request.addHeader('traceparent', tracer.traceparent(span ?? parent))
        const traceState = parent.transaction.traceState
        if (traceState !== undefined && !hasHeader(request.headers, 'tracestate')) request.addHeader('tracestate', traceState)
      }
    } catch (err) {
      tracer.log.limited('debug', 'undici', `outgoing undici/fetch request not traced: ${String(err)}`)
    }
  }

  readonly onHeaders = (message: unknown): void => {
    const { request, response } = message as HeadersMessage
    const span = spans.get(request)
    if (span === undefined) return
    const status = response?.statusCode
    if (typeof status !== 'number') return
    span.setAttribute('http.response.status_code', status)
    if (status >= 400) {
      span.setAttribute('error.type', String(status))
      span.setError()
    }
  }

  // The response is complete (its body fully received): the span ends.
  readonly onTrailers = (message: unknown): void => {
    const request = (message as { request: UndiciRequest }).request
    const span = spans.get(request)
    if (span === undefined) return
    spans.delete(request)
    span.end()
  }

  // Connection errors, aborts (AbortController, a cancelled body) and failures after the headers. undici may
  // publish more than once for one request (an abort, then the socket's own error): the first one counts.
  readonly onError = (message: unknown): void => {
    const { request, error } = message as ErrorMessage
    const span = spans.get(request)
    if (span === undefined) return
    spans.delete(request)
    span.setAttribute('error.type', errorType(error))
    span.setError(errorMessage(error))
    span.end()
  }
}

// A subscriber must never throw: diagnostics_channel rethrows a subscriber's error on the next tick, where it
// would crash the app. The handlers above only read plain fields; this guard covers the unexpected.
function guarded (tracer: Tracer, fn: (message: unknown) => void): (message: unknown) => void {
  return (message) => {
    try {
      fn(message)
    } catch (err) {
      tracer.log.limited('debug', 'undici', `undici diagnostics handler failed: ${String(err)}`)
    }
  }
}

interface Subscription {
  dc: typeof DiagnosticsChannel
  handlers: Array<[string, (message: unknown) => void]>
}

let subscription: Subscription | undefined

function unsubscribe (): void {
  const current = subscription
  subscription = undefined
  if (current === undefined) return
  for (const [name, handler] of current.handlers) current.dc.unsubscribe(name, handler as DiagnosticsChannel.ChannelListener)
}

export default defineInstrumentation({
  id: 'undici',
  targets: [{
    // global fetch runs without any require(), so the subscription is made when the agent starts: the loader
    // applies builtin targets at start. The target is the channel module; the versions covered are those of
    // undici that publish these channels (undici@>=5.0, Node's bundled copy since Node 18).
    ...UNDICI,
    patch (dc: typeof DiagnosticsChannel, { tracer }) {
      unsubscribe()
      const fetchTracer = new FetchTracer(tracer)
      const handlers: Subscription['handlers'] = [
        [CREATE, guarded(tracer, fetchTracer.onCreate)],
        [HEADERS, guarded(tracer, fetchTracer.onHeaders)],
        [TRAILERS, guarded(tracer, fetchTracer.onTrailers)],
        [ERROR, guarded(tracer, fetchTracer.onError)]
      ]
      subscription = { dc, handlers: [] }
      try {
        for (const entry of handlers) {
          dc.subscribe(entry[0], entry[1] as DiagnosticsChannel.ChannelListener)
          subscription.handlers.push(entry)
        }
      } catch (err) {
        unsubscribe() // all or nothing
        throw err
      }
    },
    unpatch () {
      unsubscribe()
    }
  }]
})
