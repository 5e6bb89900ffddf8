// Explicit middleware factories (`agent.middleware.express()`, `agent.middleware.koa()`) for apps that prefer
// wiring apm in by hand to auto-instrumentation, or that load their framework in a way apm cannot hook.
import type { Tracer } from './tracer'
import { expressMiddleware } from '../instrumentations/express'
import { koaMiddleware } from '../instrumentations/koa'

export type ExpressMiddleware = (req: any, res: any, next: (err?: unknown) => void) => void
export type KoaMiddleware = (ctx: any, next: () => Promise<unknown>) => unknown

export class Middleware {
  readonly #getTracer: () => Tracer | undefined

  /** getTracer returns undefined until the agent started: until then the middleware only passes requests on. */
  constructor (getTracer: () => Tracer | undefined) {
    this.#getTracer = getTracer
  }

  /**
   * `app.use(agent.middleware.express())`, first in the app: names and tracks each request's transaction and
   * captures its errors. With express auto-instrumentation also on, requests are still counted once.
   */
  express (): ExpressMiddleware {
    return expressMiddleware(this.#getTracer)
  }

  /**
   * `app.use(agent.middleware.koa())`, first in the app: names each request's transaction from the matched
   * @koa/router / koa-router layer and captures errors thrown by later middleware (rethrown to koa unchanged).
   */
  koa (): KoaMiddleware {
    return koaMiddleware(this.#getTracer)
  }
}
