// The small API instrumentations use to talk to the agent; they never import the agent, config or exporter.
import type { Config } from './config'
import type { Logger } from './logger'
import type { AttributeValue, Span, SpanKindValue, Transaction } from './trace/span'

export interface StartTransactionOptions {
  kind?: SpanKindValue
  /** Incoming W3C headers; invalid values are ignored (a new trace starts). */
  traceparent?: unknown
  tracestate?: unknown
  startTime?: number
}

export interface StartSpanOptions {
  kind?: SpanKindValue
  /** Parent span; default: the current span. */
  parent?: Span
  startTime?: number
}

export interface CaptureErrorOptions {
  handled?: boolean
  /** The span the error happened under; default: the current span. */
  span?: Span
  labels?: Record<string, AttributeValue>
}

/** How a transaction got its name; a better source wins over a worse one. */
export const NameSource = { DEFAULT: 0, FRAMEWORK: 1, USER: 2 } as const

export interface Tracer {
  /** false before start(), after shutdown() and with active: false. */
  readonly active: boolean
  readonly config: Readonly<Config>
  readonly log: Logger
  currentSpan (): Span | undefined
  currentTransaction (): Transaction | undefined
  /** Always returns a transaction (possibly unsampled, which still propagates trace context). */
  startTransaction (name: string, type: string, options?: StartTransactionOptions): Transaction
  /** A child of the current span; undefined outside a sampled transaction or beyond the span limit. */
  startSpan (name: string, type: string, options?: StartSpanOptions): Span | undefined
  /** Run fn with span current (AsyncLocalStorage.run). */
  withSpan<T> (span: Span | undefined, fn: () => T): T
  /** fn.apply(thisArg, args) with span current, without allocating a closure. */
  applyWithSpan<T> (span: Span | undefined, fn: (...args: any[]) => T, thisArg: unknown, args: ArrayLike<unknown>): T
  bind<F extends (...args: any[]) => any> (fn: F, span?: Span): F
  captureError (error: unknown, options?: CaptureErrorOptions): void
  /** The traceparent to send downstream for a call made under span. */
  traceparent (span: Span): string
  /** Rename a transaction unless a better source already named it. */
  setTransactionName (transaction: Transaction, name: string, source: number): void
}
