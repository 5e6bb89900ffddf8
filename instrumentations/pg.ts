// pg: a CLIENT span per Client#query (callback, promise, submittable) and Client#connect; callbacks keep the caller's context.
import { errorMonitor } from 'node:events'
import { defineInstrumentation } from '../lib/instrument'
import { describeSql } from '../lib/sanitize'
import type { StartSpanOptions, Tracer } from '../lib/tracer'
import { SpanKind, type Span } from '../lib/trace/span'
import { unwrap, wrap } from '../lib/wrap'
import { PG, PG_CURSOR, PG_POOL } from './targets'

const kSpan = Symbol('apm.pg.span')

type AnyFn = (...args: any[]) => any

interface PgClient {
  host?: unknown
  port?: unknown
  database?: unknown
}

interface Submittable {
  submit: AnyFn
  callback?: unknown
  on?: (event: string | symbol, listener: AnyFn) => unknown
  [kSpan]?: Span
}

type Traced = { [kSpan]?: Span }

function isSubmittable (config: unknown): config is Submittable {
  return config !== null && typeof config === 'object' && typeof (config as Submittable).submit === 'function'
}

function textOf (config: unknown): string | undefined {
  if (typeof config === 'string') return config
  if (config !== null && typeof config === 'object') {
    const text = (config as { text?: unknown }).text
    if (typeof text === 'string') return text
    // pg-query-stream@4 keeps the statement on its cursor.
    const cursorText = (config as { cursor?: { text?: unknown } }).cursor?.text
    if (typeof cursorText === 'string') return cursorText
  }
  return undefined
}

function setConnectionAttributes (span: Span, client: PgClient): void {
  span.setAttribute('db.system.name', 'postgresql')
  if (typeof client.database === 'string') span.setAttribute('db.namespace', client.database)
  if (typeof client.host === 'string') span.setAttribute('server.address', client.host)
  if (typeof client.port === 'number') span.setAttribute('server.port', client.port)
}

/** End span; on failure record error.type (the SQLSTATE when the server sent one) and status ERROR. */
function finish (span: Span, err: unknown): void {
  if (err !== null && err !== undefined && span.statusCode === 0) {
    const code = (err as { code?: unknown }).code
    const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof (err as { severity?: unknown }).severity === 'string'
    if (typeof code === 'string' && code !== '') {
      span.setAttribute('error.type', code)
      if (sqlstate) span.setAttribute('db.response.status_code', code)
    } else {
      span.setAttribute('error.type', (err as { name?: unknown }).name === undefined ? 'Error' : String((err as Error).name))
    }
    // Server messages can quote the values of the statement (`invalid input syntax for type integer: "4111…"`),
    // so only the SQLSTATE is recorded for them; client-side errors keep their message.
    span.setError(sqlstate ? undefined : (err as Error).message)
  }
  span.end()
}

// Submittable listeners: prototype-free functions reading the span from the emitter, no closure per query.
function onSubmittableEnd (this: Traced): void {
  const span = this[kSpan]
  if (span !== undefined) finish(span, undefined)
}

function onSubmittableError (this: Traced, err: unknown): void {
  const span = this[kSpan]
  // Node 20 destroys a stream the app stopped reading (`break` in `for await`) with an AbortError: not a failure.
  if (span !== undefined) finish(span, (err as Error | undefined)?.name === 'AbortError' ? undefined : err)
}

/** The callback to run in `parent`'s context (undefined: outside any span), ending span first when given. */
function bindCallback (tracer: Tracer, callback: AnyFn, parent: Span | undefined, span: Span | undefined): AnyFn {
  return function (this: unknown, err: unknown) {
    if (span !== undefined) finish(span, err)
    return tracer.applyWithSpan(parent, callback, this, arguments)
  }
}

function chain (promise: unknown, span: Span): unknown {
  if (promise === null || typeof promise !== 'object' || typeof (promise as Promise<unknown>).then !== 'function') {
    finish(span, undefined)
    return promise
  }
  return (promise as Promise<unknown>).then(
    (value) => { finish(span, undefined); return value },
    (err) => { finish(span, err); throw err }
  )
}

// One options object for every query span: startSpan reads it and keeps nothing (the parent is passed in, so
// the current span is looked up once per query).
const queryOptions: StartSpanOptions = { kind: SpanKind.CLIENT, parent: undefined }

function patchQuery (Client: { prototype: object }, tracer: Tracer): void {
  wrap(Client.prototype, 'query', (query) => function (this: PgClient, config: unknown, values: unknown, callback: unknown) {
    if (!tracer.active) return query.apply(this, arguments as unknown as unknown[])
    const parent = tracer.currentSpan()
    const submittable = isSubmittable(config)
    // Which callback pg will call. pg@8 Client#query: a submittable keeps its own callback, else gets the
    // 2nd argument when it is a function, else the 3rd; normalizeQueryConfig for the rest: the 3rd argument
    // when truthy, else a function as 2nd, else config.callback. A non-function is left for pg to reject.
    let index = -1
    let cb: unknown
    if (submittable) {
      if (config.callback) {
        index = -2
      } else if (typeof values === 'function') {
        index = 1
        cb = values
      } else if (callback) {
        index = 2
        cb = callback
      }
    } else if (callback) {
      index = 2
      cb = callback
    } else if (typeof values === 'function') {
      index = 1
      cb = values
    } else if (config !== null && typeof config === 'object' && typeof (config as { callback?: unknown }).callback === 'function') {
      index = 3
      cb = (config as { callback: unknown }).callback
    }
    if (index >= 0 && typeof cb !== 'function') return query.apply(this, arguments as unknown as unknown[])

    queryOptions.parent = parent
    const span = tracer.startSpan('postgresql', 'db', queryOptions)
    queryOptions.parent = undefined
    if (span === undefined) {
      // No span (outside a transaction, unsampled, over the limit): still run the callback in the caller's context.
      if (typeof cb !== 'function') return query.apply(this, arguments as unknown as unknown[])
      return callWith(query, this, arguments, index, bindCallback(tracer, cb as AnyFn, parent, undefined))
    }

    let result: unknown
    try {
      const text = textOf(config)
      // Summary, operation and obfuscated text (cut to 10,000 characters), computed once per distinct statement.
      const sql = text === undefined ? undefined : describeSql(text)
      if (sql !== undefined) {
        span.name = sql.summary
        if (sql.operation !== null) span.setAttribute('db.operation.name', sql.operation)
      }
      setConnectionAttributes(span, this)
      if (sql !== undefined) span.setAttribute('db.query.text', sql.text)
    } catch (err) {
      tracer.log.limited('debug', 'pg-query', `pg query attributes not recorded: ${String(err)}`)
    }

    if (submittable) {
      try {
        config[kSpan] = span
        if (typeof config.on === 'function') {
          // 'end' for pg.Query and pg-cursor, 'close' for streams (pg-query-stream); errorMonitor never
          // counts as an 'error' listener, so an unhandled error still crashes as it would without us.
          config.on('end', onSubmittableEnd)
          config.on('close', onSubmittableEnd)
          config.on(errorMonitor, onSubmittableError)
        }
      } catch {}
    }
    try {
      result = typeof cb === 'function'
        ? callWith(query, this, arguments, index, bindCallback(tracer, cb as AnyFn, parent, span))
        : query.apply(this, arguments as unknown as unknown[])
    } catch (err) {
      // pg@8: query(null) and a non-function callback throw synchronously; the app gets the same error.
      finish(span, err)
      throw err
    }
    if (submittable) return result
    if (typeof cb === 'function') return result
    return chain(result, span)
  })
}

/** original.apply(thisArg, args) with the callback at `index` (3: as an explicit callback after config) replaced. */
function callWith (original: AnyFn, thisArg: unknown, args: IArguments, index: number, callback: AnyFn): unknown {
  // The usual shapes, query(text, values, cb) (as Pool#query calls it) and query(text, cb), without copying arguments.
  if (index === 3 || (index === 2 && args.length === 3)) return original.call(thisArg, args[0], args[1], callback)
  if (index === 1 && args.length === 2) return original.call(thisArg, args[0], callback)
  const copy = Array.prototype.slice.call(args)
  copy[index] = callback
  return original.apply(thisArg, copy)
}

function patchConnect (Client: { prototype: object }, tracer: Tracer): void {
  wrap(Client.prototype, 'connect', (connect) => function (this: PgClient, callback: unknown) {
    if (!tracer.active) return connect.apply(this, arguments as unknown as unknown[])
    const parent = tracer.currentSpan()
    const span = tracer.startSpan('pg.connect', 'db', { kind: SpanKind.CLIENT })
    if (span === undefined) return connect.apply(this, arguments as unknown as unknown[])
    setConnectionAttributes(span, this)
    let result: unknown
    try {
      if (typeof callback === 'function') {
        return connect.call(this, bindCallback(tracer, callback as AnyFn, parent, span))
      }
      result = connect.apply(this, arguments as unknown as unknown[])
    } catch (err) {
      finish(span, err)
      throw err
    }
    return chain(result, span)
  })
}

// pg-pool@3 calls queued checkout callbacks from whichever client is released: bind them to the caller.
// Pool#query checks out through this.connect(cb), so its queries also run (and get their parent) in the caller's context.
function patchPool (Pool: { prototype: object }, tracer: Tracer): void {
  wrap(Pool.prototype, 'connect', (connect) => function (this: unknown, callback: unknown) {
    if (!tracer.active || typeof callback !== 'function') return connect.apply(this, arguments as unknown as unknown[])
    return connect.call(this, bindCallback(tracer, callback as AnyFn, tracer.currentSpan(), undefined))
  })
}

// A submitted pg.Query with its own callback, and pg-cursor@2 (which emits 'error' only when someone listens),
// report failures without an event we could observe: handleError is where pg hands them the error.
function patchHandleError (Submittable: { prototype: object }): void {
  wrap(Submittable.prototype, 'handleError', (handleError) => function (this: Traced, err: unknown) {
    const span = this[kSpan]
    if (span !== undefined) finish(span, err)
    return handleError.apply(this, arguments as unknown as unknown[])
  })
}

function pgExports (exports: any): any {
  // CommonJS exports, or an ES module namespace (its default is the CommonJS exports).
  return typeof exports?.Client === 'function' ? exports : exports?.default
}

export default defineInstrumentation({
  id: 'pg',
  targets: [{
    ...PG,
    patch (exports, { tracer }) {
      const pg = pgExports(exports)
      if (typeof pg?.Client?.prototype?.query !== 'function') throw new Error('pg.Client.prototype.query not found')
      patchQuery(pg.Client, tracer)
      patchConnect(pg.Client, tracer)
      if (typeof pg.Pool?.prototype?.connect === 'function') patchPool(pg.Pool, tracer)
      if (typeof pg.Query?.prototype?.handleError === 'function') patchHandleError(pg.Query)
    },
    unpatch (exports) {
      const pg = pgExports(exports)
      if (pg?.Client === undefined) return
      unwrap(pg.Client.prototype, 'query')
      unwrap(pg.Client.prototype, 'connect')
      if (pg.Pool !== undefined) unwrap(pg.Pool.prototype, 'connect')
      if (pg.Query !== undefined) unwrap(pg.Query.prototype, 'handleError')
    }
  }, {
    // pg.Pool extends pg-pool's Pool; patched here too for apps that use pg-pool directly (wrap skips a method
    // that is already ours, so pg.Pool is never wrapped twice).
    ...PG_POOL,
    patch (exports, { tracer }) {
      const Pool = typeof exports === 'function' ? exports : exports?.default
      if (typeof Pool?.prototype?.connect !== 'function') throw new Error('Pool.prototype.connect not found')
      patchPool(Pool, tracer)
    },
    unpatch (exports) {
      const Pool = typeof exports === 'function' ? exports : exports?.default
      if (Pool?.prototype !== undefined) unwrap(Pool.prototype, 'connect')
    }
  }, {
    ...PG_CURSOR,
    patch (exports) {
      const Cursor = typeof exports === 'function' ? exports : exports?.default
      if (typeof Cursor?.prototype?.handleError !== 'function') throw new Error('Cursor.prototype.handleError not found')
      patchHandleError(Cursor)
    },
    unpatch (exports) {
      const Cursor = typeof exports === 'function' ? exports : exports?.default
      if (Cursor?.prototype !== undefined) unwrap(Cursor.prototype, 'handleError')
    }
  }]
})
