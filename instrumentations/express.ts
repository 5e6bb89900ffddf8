// express 4 and 5 (and the `router` package express 5 is built on): transactions named `METHOD <route template>`
// across mount paths and nested routers, `METHOD unknown route` when nothing matched, errors captured once.
//
// How: Router#use/#route remember the path template of each layer they add (layers keep only a compiled regexp);
// Layer#handle_request (4) / #handleRequest (5) keep a per-request stack of mount templates and name the
// transaction when a route layer runs; Layer#handle_error / #handleError and the outermost Router#handle's final
// callback see every error that travels the stack (sync throws, rejected promises in 5, next(err)).
// The Layer prototype is not exported by express 4, so it is taken from the first layer a patched router adds.
import { defineInstrumentation, type Target } from '../lib/instrument'
import type { Tracer } from '../lib/tracer'
import { unwrap, wrap } from '../lib/wrap'
import { EXPRESS_4, EXPRESS_5, ROUTER_2 } from './targets'
import {
  captureRequestError, joinRoute, nameRoute, nameUnknownRoute, newState, requestTransaction, templateText,
  type RequestState
} from '../lib/framework'

const kPath = Symbol('apm.express.path')

// Per-request state, by request object: null when the outermost router saw the request outside any transaction
// (the explicit middleware may still set one up). Kept off the request itself: express's req is an
// IncomingMessage re-prototyped with ~30 own properties, where adding two Symbol keys cost ~3.5 µs per request
// (CPU profile of benchmarks/apps/express-pg.js, express 5), and slowed express's own router code on it;
// the WeakMap#set costs ~0.7 µs.
const states = new WeakMap<object, RequestState | null>()

type Req = { method?: string, baseUrl?: string } & Record<string, any>
type Layer = { [kPath]?: string, route?: { path?: unknown }, rawPath?: unknown, path?: unknown, params?: Record<string, unknown>, keys?: Array<{ name: string | number }> }

/** The method names of one express generation: 4 uses snake_case, the `router` package camelCase. */
interface Flavour {
  handleRequest: 'handle_request' | 'handleRequest'
  handleError: 'handle_error' | 'handleError'
}
const EXPRESS4: Flavour = { handleRequest: 'handle_request', handleError: 'handle_error' }
const ROUTER2: Flavour = { handleRequest: 'handleRequest', handleError: 'handleError' }

// Layer prototypes patched so far (for unpatch), by flavour.
const patchedLayers = new Map<object, Flavour>()

/** Patch a router prototype (express 4: the `express.Router` function itself; router 2: Router.prototype). */
function patchRouterProto (proto: any, tracer: Tracer, flavour: Flavour): void {
  if (typeof proto?.use !== 'function' || typeof proto.route !== 'function' || typeof proto.handle !== 'function') {
    throw new Error('Router#use/#route/#handle not found')
  }
  wrap(proto, 'use', (use) => function (this: { stack?: Layer[] }, path: unknown) {
    const stack = this?.stack
    const before = Array.isArray(stack) ? stack.length : -1
    const result = use.apply(this, arguments as unknown as unknown[])
    // router.use(fn) mounts at '/'; router.use(path, ...fns) at path (a string, RegExp or array of them).
    if (before !== -1) rememberPaths(stack!, before, isFunctionList(path) ? undefined : templateText(path), tracer, flavour)
    return result
  })
  wrap(proto, 'route', (route) => function (this: { stack?: Layer[] }, path: unknown) {
    const stack = this?.stack
    const before = Array.isArray(stack) ? stack.length : -1
    const result = route.apply(this, arguments as unknown as unknown[])
    if (before !== -1) rememberPaths(stack!, before, templateText(path), tracer, flavour)
    return result
  })
  wrap(proto, 'handle', (handle) => function (this: unknown, req: Req, res: unknown, out: unknown) {
    // Only the outermost router of a request sets it up; nested routers and sub-apps share its state.
    if (!tracer.active || req === null || typeof req !== 'object' || typeof out !== 'function' || states.has(req)) {
      return handle.apply(this, arguments as unknown as unknown[])
    }
    const tx = tracer.currentTransaction()
    let state: RequestState | null = null
    if (tx !== undefined) {
      state = newState(tx)
      nameUnknownRoute(tracer, state, req.method)
    }
    states.set(req, state)
    // An error nobody handled leaves the router through its final callback (express's finalhandler for an app).
    // The state is read when that happens: without a transaction here, the explicit middleware may create one.
    const done = out as (...args: unknown[]) => unknown
    return handle.call(this, req, res, function (this: unknown, err: unknown) {
      const state = states.get(req)
      if (state !== undefined && state !== null && err !== undefined && err !== null) captureRequestError(tracer, state, err)
      return done.apply(this, arguments as unknown as unknown[])
    })
  })
}

function isFunctionList (value: unknown): boolean {
  let v = value
  while (Array.isArray(v) && v.length !== 0) v = v[0]
  return typeof v === 'function'
}

function rememberPaths (stack: Layer[], from: number, path: string | undefined, tracer: Tracer, flavour: Flavour): void {
  for (let i = from; i < stack.length; i++) {
    const layer = stack[i]
    if (layer === null || typeof layer !== 'object') continue
    layer[kPath] = path ?? '/'
    patchLayerProto(Object.getPrototypeOf(layer), tracer, flavour)
  }
}

function patchLayerProto (proto: any, tracer: Tracer, flavour: Flavour): void {
  if (proto === null || patchedLayers.has(proto)) return
  if (typeof proto[flavour.handleRequest] !== 'function' || typeof proto[flavour.handleError] !== 'function') return
  patchedLayers.set(proto, flavour)
  wrap(proto, flavour.handleRequest, (handleRequest) => function (this: Layer, req: Req, res: unknown, next: unknown) {
    // (WeakMap#get of a non-object is undefined.)
    const state = tracer.active ? states.get(req) : undefined
    if (state === undefined || state === null) return handleRequest.apply(this, arguments as unknown as unknown[])
    if (this.route !== undefined) {
      const path = templateOf(this)
      if (path !== undefined) nameRoute(tracer, state, req.method, joinRoute(state.mounts, path))
    } else if (typeof next === 'function') {
      const path = templateOf(this)
      if (path !== undefined && path !== '/' && path !== '') {
        // A mount: its template applies until the request leaves it through next().
        const depth = state.mounts.length
        state.mounts.push(path)
        const leave = next as (...args: unknown[]) => unknown
        return runInTransaction(tracer, state, handleRequest, this, [req, res, function (this: unknown) {
          state.mounts.length = depth
          return leave.apply(this, arguments as unknown as unknown[])
        }])
      }
    }
    return runInTransaction(tracer, state, handleRequest, this, arguments)
  })
  wrap(proto, flavour.handleError, (handleError) => function (this: Layer & { handle?: { length?: number } }, err: unknown, req: Req) {
    const state = tracer.active ? states.get(req) : undefined
    // Captured where an error handler ((err, req, res, next)) is about to see it.
    if (state !== undefined && state !== null && typeof this.handle === 'function' && this.handle.length === 4) captureRequestError(tracer, state, err)
    return handleError.apply(this, arguments as unknown as unknown[])
  })
}

// Callbacks resumed from stream events (e.g. after a body parser read the body) run outside the request's
// context; each layer runs inside its transaction again, so the app's handlers and their spans see it.
function runInTransaction (tracer: Tracer, state: RequestState, fn: (...args: any[]) => unknown, thisArg: unknown, args: ArrayLike<unknown>): unknown {
  const current = tracer.currentSpan()
  if (current !== undefined && current.transaction === state.tx) return fn.apply(thisArg, args as unknown[])
  return tracer.applyWithSpan(state.tx, fn, thisArg, args)
}

/**
 * The path template of a layer: remembered at registration, or (for layers added before apm was patched in)
 * the route's path, router@2.3's rawPath, or the matched path with its parameter values put back as `:name`.
 */
function templateOf (layer: Layer): string | undefined {
  const remembered = layer[kPath]
  if (remembered !== undefined) return remembered
  if (layer.route !== undefined) return templateText(layer.route.path)
  if (layer.rawPath !== undefined) return templateText(layer.rawPath)
  const matched = layer.path
  if (typeof matched !== 'string') return undefined
  const params = layer.params
  const keys = layer.keys
  if (params === undefined || !Array.isArray(keys) || keys.length === 0) return matched
  const segments = matched.split('/')
  let from = 0
  for (const key of keys) {
    const value = params[key?.name]
    if (typeof value !== 'string' || value === '') continue
    for (let i = from; i < segments.length; i++) {
      if (segments[i] === value || safeDecode(segments[i]!) === value) {
        segments[i] = ':' + String(key.name)
        from = i + 1
        break
      }
    }
  }
  return segments.join('/')
}

function safeDecode (s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

function unpatchRouterProto (proto: any): void {
  if (proto === null || proto === undefined) return
  unwrap(proto, 'use')
  unwrap(proto, 'route')
  unwrap(proto, 'handle')
  for (const [layerProto, flavour] of patchedLayers) {
    unwrap(layerProto, flavour.handleRequest)
    unwrap(layerProto, flavour.handleError)
  }
  patchedLayers.clear()
}

function express4Router (express: any): any {
  // express@4: `express.Router` is the router prototype itself (router instances get it via setPrototypeOf).
  return express?.Router
}

function router2Proto (exportsOrExpress: any): any {
  return exportsOrExpress?.Router?.prototype ?? (typeof exportsOrExpress === 'function' ? exportsOrExpress.prototype : undefined)
}

const targets: Target[] = [
  {
    ...EXPRESS_4,
    patch (express, { tracer }) { patchRouterProto(express4Router(express), tracer, EXPRESS4) },
    unpatch (express) { unpatchRouterProto(express4Router(express)) }
  },
  {
    ...EXPRESS_5,
    patch (express, { tracer }) { patchRouterProto(express?.Router?.prototype, tracer, ROUTER2) },
    unpatch (express) { unpatchRouterProto(express?.Router?.prototype) }
  },
  {
    // express 5's router; also covers it when express itself was loaded in a way apm could not hook.
    ...ROUTER_2,
    patch (Router, { tracer }) { patchRouterProto(router2Proto(Router), tracer, ROUTER2) },
    unpatch (Router) { unpatchRouterProto(router2Proto(Router)) }
  }
]

export default defineInstrumentation({ id: 'express', targets })

/**
 * The explicit middleware (`app.use(agent.middleware.express())`): when the auto-instrumentation did not set the
 * request up (disabled, or express loaded before apm started), it instruments the app's copy of express from
 * here on, takes the request's transaction (or starts one) and names it like the auto path. When the
 * auto-instrumentation is on, it only calls next(): one transaction per request, one error per error.
 */
export function expressMiddleware (getTracer: () => Tracer | undefined): (req: any, res: any, next: (err?: unknown) => void) => void {
  return function apmExpressMiddleware (req: Req, res: any, next: (err?: unknown) => void) {
    const tracer = getTracer()
    if (tracer === undefined || !tracer.active || req === null || typeof req !== 'object') return next()
    const existing = states.get(req)
    if (existing !== undefined && existing !== null) return next()
    try {
      instrumentApp(req.app, tracer)
    } catch (err) {
      tracer.log.limited('debug', 'express-middleware', `express app not instrumented: ${String(err)}`)
    }
    const { tx, owned } = requestTransaction(tracer, req as any, res)
    const state = newState(tx)
    // Mounted in a sub-app, the mount path as matched is all that is known of the outer templates.
    if (typeof req.baseUrl === 'string' && req.baseUrl !== '') state.mounts.push(req.baseUrl)
    states.set(req, state)
    nameUnknownRoute(tracer, state, req.method)
    if (owned) return tracer.withSpan(tx, next)
    next()
  }
}

// Apps the explicit middleware already instrumented (it runs on every request when http is not instrumented).
const instrumentedApps = new WeakSet<object>()

function instrumentApp (app: any, tracer: Tracer): void {
  if (app === null || (typeof app !== 'object' && typeof app !== 'function') || instrumentedApps.has(app)) return
  const router = app._router ?? app.router
  if (router === null || router === undefined) return
  instrumentedApps.add(app)
  const proto = Object.getPrototypeOf(router)
  // express 4: the router function's prototype is the router proto (snake_case layers); router 2: Router.prototype.
  const layer = Array.isArray(router.stack) ? router.stack.find((l: unknown) => l !== null && typeof l === 'object') : undefined
  const layerProto = layer === undefined ? null : Object.getPrototypeOf(layer)
  const flavour = typeof layerProto?.handle_request === 'function' ? EXPRESS4 : ROUTER2
  patchRouterProto(proto, tracer, flavour)
  if (layerProto !== null) patchLayerProto(layerProto, tracer, flavour)
}
