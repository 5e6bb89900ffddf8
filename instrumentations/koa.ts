// koa 2 and 3: transactions named from the matched @koa/router / koa-router layer (`GET /orders/:orderId`, prefixes
// included), `METHOD unknown route` when no router matched; errors thrown by middleware captured once.
//
// How: Application#handleRequest(ctx, fnMiddleware) runs the composed middleware; apm runs it through a wrapper
// that, when the chain settles, names the transaction from `ctx._matchedRoute` (the documented field both routers
// set to the matched layer's full path) and captures a rejection before koa's own ctx.onerror answers 500 and
// emits 'error'. No 'error' listener is added, so koa's default logging (which depends on there being none) stays.
import { format } from 'node:util'
import { defineInstrumentation } from '../lib/instrument'
import type { Tracer } from '../lib/tracer'
import { unwrap, wrap } from '../lib/wrap'
import { KOA } from './targets'
import {
  captureRequestError, nameRoute, nameUnknownRoute, newState, requestTransaction, templateText, type RequestState
} from '../lib/framework'

const kState = Symbol('apm.koa.state')

type Ctx = { [kState]?: RequestState, method?: string, _matchedRoute?: unknown, req?: any, res?: any } & Record<string, any>
type Composed = (...args: any[]) => unknown

function nameFromRouter (tracer: Tracer, state: RequestState, ctx: Ctx): void {
  let route: unknown
  try { route = ctx._matchedRoute } catch { return }
  const text = templateText(route)
  if (text !== undefined && text !== '') nameRoute(tracer, state, ctx.method, text)
}

/** Run the composed middleware (or the rest of it) and name/capture when it settles; returns what it returned. */
function traced (tracer: Tracer, state: RequestState, ctx: Ctx, fn: Composed, thisArg: unknown, args: ArrayLike<unknown>): unknown {
  let result: unknown
  try {
    result = fn.apply(thisArg, args as unknown[])
  } catch (err) {
    nameFromRouter(tracer, state, ctx)
    captureRequestError(tracer, state, err)
    throw err
  }
  if (result === null || typeof result !== 'object' || typeof (result as Promise<unknown>).then !== 'function') {
    nameFromRouter(tracer, state, ctx)
    return result
  }
  return (result as Promise<unknown>).then((value) => {
    nameFromRouter(tracer, state, ctx)
    return value
  }, (err: unknown) => {
    nameFromRouter(tracer, state, ctx)
    captureRequestError(tracer, state, err)
    throw err
  })
}

// koa's ctx.onerror turns a thrown non-Error into `new Error(util.format('non-error thrown: %j', value))` before it
// emits it: the same failure as the value already captured when the middleware rejected.
function isKoaWrapped (err: unknown, captured: unknown): boolean {
  if (captured === undefined || captured === null || typeof captured === 'object' || !(err instanceof Error)) return false
  try {
    return err.message === format('non-error thrown: %j', captured)
  } catch {
    return false
  }
}

function patchApplication (Application: any, tracer: Tracer): void {
  const proto = Application?.prototype
  if (typeof proto?.handleRequest !== 'function') throw new Error('Application#handleRequest not found')
  wrap(proto, 'handleRequest', (handleRequest) => function (this: unknown, ctx: Ctx, fnMiddleware: Composed) {
    if (!tracer.active || ctx === null || typeof ctx !== 'object' || ctx[kState] !== undefined || typeof fnMiddleware !== 'function') {
      return handleRequest.apply(this, arguments as unknown as unknown[])
    }
    const tx = tracer.currentTransaction()
    if (tx === undefined) return handleRequest.apply(this, arguments as unknown as unknown[])
    const state = newState(tx)
    ctx[kState] = state
    nameUnknownRoute(tracer, state, ctx.method)
    return handleRequest.call(this, ctx, function (this: unknown) {
      return traced(tracer, state, ctx, fnMiddleware, this, arguments)
    })
  })
  // Errors an app's own error middleware reports the koa way (`ctx.app.emit('error', err, ctx)`) are seen here;
  // koa's ctx.onerror emits the same way (deduplicated with the capture above). Observed, not listened to.
  wrap(proto, 'emit', (emit) => function (this: unknown, event: unknown, err: unknown, ctx: Ctx | undefined) {
    if (event === 'error' && tracer.active && ctx !== null && typeof ctx === 'object') {
      const state = ctx[kState]
      if (state !== undefined && !isKoaWrapped(err, state.captured)) captureRequestError(tracer, state, err)
    }
    return emit.apply(this, arguments as unknown as unknown[])
  })
}

export default defineInstrumentation({
  id: 'koa',
  targets: [{
    ...KOA,
    patch (Application, { tracer }) { patchApplication(Application, tracer) },
    unpatch (Application) {
      if (Application?.prototype === undefined) return
      unwrap(Application.prototype, 'handleRequest')
      unwrap(Application.prototype, 'emit')
    }
  }]
})

/**
 * The explicit middleware (`app.use(agent.middleware.koa())`, best as the first middleware): when the
 * auto-instrumentation did not set the request up, it takes the request's transaction (or starts one), names it
 * from the matched router layer and captures errors thrown further down (then rethrows them, unchanged, to
 * koa). When the auto-instrumentation is on, it only calls next(): one transaction per request, one error per error.
 */
export function koaMiddleware (getTracer: () => Tracer | undefined): (ctx: any, next: () => Promise<unknown>) => unknown {
  return function apmKoaMiddleware (ctx: Ctx, next: () => Promise<unknown>) {
    const tracer = getTracer()
    if (tracer === undefined || !tracer.active || ctx === null || typeof ctx !== 'object' || ctx[kState] !== undefined) return next()
    try {
      instrumentApp(ctx.app, tracer)
    } catch (err) {
      tracer.log.limited('debug', 'koa-middleware', `koa app not instrumented: ${String(err)}`)
    }
    const { tx, owned } = requestTransaction(tracer, ctx.req, ctx.res)
    const state = newState(tx)
    ctx[kState] = state
    nameUnknownRoute(tracer, state, ctx.method)
    if (owned) return tracer.withSpan(tx, () => traced(tracer, state, ctx, next, undefined, []))
    return traced(tracer, state, ctx, next, undefined, [])
  }
}

// The app's copy of koa is instrumented from the first request on (the class that defines handleRequest).
function instrumentApp (app: unknown, tracer: Tracer): void {
  let proto = app === null || typeof app !== 'object' ? null : Object.getPrototypeOf(app)
  while (proto !== null && !Object.prototype.hasOwnProperty.call(proto, 'handleRequest')) proto = Object.getPrototypeOf(proto)
  if (proto !== null && typeof proto.constructor === 'function' && proto.constructor.prototype === proto) patchApplication(proto.constructor, tracer)
}
