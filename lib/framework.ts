// Helpers shared by the web-framework instrumentations (express, koa) and their explicit middleware: route
// names, error capture once per request, and a server transaction for requests the http instrumentation missed.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { NameSource, type Tracer } from './tracer'
import { SpanKind, type Transaction } from './trace/span'
import { traceIncomingRequest } from '../instrumentations/http'
import { httpMethod } from './semconv'

/** Per-request framework state, kept by each framework instrumentation per request (express: a WeakMap by req; koa: on ctx). */
export interface RequestState {
  tx: Transaction
  /** Mount-path templates of the routers/apps the request is currently inside (express). */
  mounts: string[]
  /** The last error captured for this request: the same error passing several handlers is captured once. */
  captured: unknown
}

export function newState (tx: Transaction): RequestState {
  return { tx, mounts: [], captured: undefined }
}

/** `METHOD unknown route`: the name of a request no route matched (never the raw path). */
export function nameUnknownRoute (tracer: Tracer, state: RequestState, method: unknown): void {
  tracer.setTransactionName(state.tx, httpMethod(method) + ' unknown route', NameSource.FRAMEWORK)
}

/** Name the transaction `METHOD <route>` and set http.route; a name given by the user still wins. */
export function nameRoute (tracer: Tracer, state: RequestState, method: unknown, route: string): void {
  const tx = state.tx
  tracer.setTransactionName(tx, httpMethod(method) + ' ' + route, NameSource.FRAMEWORK)
  if (tx.sampled) tx.setAttribute('http.route', route)
}

/** A route template as text: strings as written, RegExps as their source (`/\/ab+c/i`), arrays joined by `,`. */
export function templateText (path: unknown): string | undefined {
  if (typeof path === 'string') return path
  if (path instanceof RegExp) return String(path)
  if (Array.isArray(path)) {
    const parts: string[] = []
    for (const p of path) {
      const text = templateText(p)
      if (text !== undefined) parts.push(text)
    }
    return parts.join(',')
  }
  return undefined
}

/** Join mount templates and a route template: `/api` + `/users/:id` → `/api/users/:id`; `/api` + `/` → `/api`. */
export function joinRoute (mounts: readonly string[], route: string): string {
  let out = ''
  for (const m of mounts) out = appendPath(out, m)
  out = appendPath(out, route)
  return out === '' ? '/' : out
}

function appendPath (base: string, part: string): string {
  if (part === '' || part === '/') return base
  if (base === '') return part
  const baseSlash = base.endsWith('/')
  const partSlash = part.startsWith('/')
  if (baseSlash && partSlash) return base + part.slice(1)
  if (!baseSlash && !partSlash && !part.startsWith('(')) return base + '/' + part
  return base + part
}

/**
 * Capture an error that reached the framework's error path, unhandled and linked to the request's transaction,
 * once per request even when it passes several error handlers (or both the auto path and the explicit middleware).
 * Client errors the app raised on purpose (an error with a 4xx `status`/`statusCode`, e.g. http-errors) are not
 * captured: they are answers, not failures, and are visible as the response status.
 */
export function captureRequestError (tracer: Tracer, state: RequestState, err: unknown): void {
  if (err === undefined || err === null || err === 'route' || err === 'router' || state.captured === err) return
  state.captured = err
  if (isClientError(err)) return
  tracer.captureError(err, { handled: false, span: state.tx })
}

function isClientError (err: unknown): boolean {
  if (typeof err !== 'object') return false
  let status: unknown
  try {
    status = (err as { status?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode
  } catch {
    return false
  }
  return typeof status === 'number' && status >= 400 && status < 500
}

/**
 * The transaction of the request being handled: the http instrumentation's when it saw the request, otherwise a
 * new SERVER transaction owned by the explicit middleware (the same one the http instrumentation would have made,
 * ended when the response closes). `owned` tells which.
 */
export function requestTransaction (tracer: Tracer, req: IncomingMessage, res: ServerResponse): { tx: Transaction, owned: boolean } {
  const current = tracer.currentTransaction()
  if (current !== undefined && current.kind === SpanKind.SERVER && !current.ended) return { tx: current, owned: false }
  const scheme = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true ? 'https' : 'http'
  const tx = traceIncomingRequest(tracer, req, res, scheme)
  nameUnknownRoute(tracer, newState(tx), req.method)
  return { tx, owned: true }
}
