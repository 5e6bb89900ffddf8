// The Recorder: creates transactions and spans, keeps the current one in context, hands ended spans to the
// exporter. It implements the Tracer API that instrumentations receive.
import type { Config } from './config'
import { storage } from './context'
import type { Exporter } from './export/exporter'
import type { Logger } from './logger'
import { formatTraceparent, parseTraceparent } from './trace/traceparent'
import { Span, SpanKind, Transaction, type SpanLimits, type SpanSink } from './trace/span'
import type { CaptureErrorOptions, StartSpanOptions, StartTransactionOptions, Tracer } from './tracer'

export type ErrorHandler = (error: unknown, options: CaptureErrorOptions | undefined) => void

export class Recorder implements Tracer, SpanSink {
  readonly config: Readonly<Config>
  readonly log: Logger
  readonly limits: SpanLimits
  readonly #exporter: Exporter
  readonly #sampleRate: number
  #active = true
  #onError: ErrorHandler = () => {}

  constructor (config: Config, exporter: Exporter, log: Logger) {
    this.config = config
    this.log = log
    this.#exporter = exporter
    this.#sampleRate = config.transactionSampleRate
    this.limits = {
      maxAttributes: config.maxAttributes,
      maxAttributeLength: config.maxAttributeLength,
      maxSpansPerTransaction: config.maxSpansPerTransaction
    }
  }

  get active (): boolean {
    return this.#active
  }

  deactivate (): void {
    this.#active = false
  }

  setErrorHandler (handler: ErrorHandler): void {
    this.#onError = handler
  }

  onSpanEnd (span: Span): void {
    this.#exporter.pushSpan(span)
  }

  currentSpan (): Span | undefined {
    return storage.getStore()
  }

  currentTransaction (): Transaction | undefined {
    return storage.getStore()?.transaction
  }

  startTransaction (name: string, type: string, options?: StartTransactionOptions): Transaction {
    const remote = options?.traceparent === undefined ? null : parseTraceparent(options.traceparent, options.tracestate)
    // Parent-based sampling: a caller's decision is honoured, otherwise the configured rate applies.
    const sampled = remote !== null ? remote.sampled : this.#sampleRate >= 1 || (this.#sampleRate > 0 && Math.random() < this.#sampleRate)
    return new Transaction(this, name, type, options?.kind ?? SpanKind.INTERNAL, remote, sampled, options?.startTime)
  }

  startSpan (name: string, type: string, options?: StartSpanOptions): Span | undefined {
    const parent = options?.parent ?? storage.getStore()
    if (parent === undefined || !this.#active) return undefined
    const tx = parent.transaction
    if (!tx.sampled || !tx.reserveSpan()) return undefined
    return new Span(tx, parent, name, type, options?.kind ?? SpanKind.INTERNAL, options?.startTime)
  }

  withSpan<T> (span: Span | undefined, fn: () => T): T {
    return storage.run(span, fn)
  }

  applyWithSpan<T> (span: Span | undefined, fn: (...args: any[]) => T, thisArg: unknown, args: ArrayLike<unknown>): T {
    return storage.run(span, Reflect.apply as (fn: (...a: any[]) => T, t: unknown, a: ArrayLike<unknown>) => T, fn, thisArg, args)
  }

  bind<F extends (...args: any[]) => any> (fn: F, span: Span | undefined = storage.getStore()): F {
    if (typeof fn !== 'function' || span === undefined) return fn
    const bound = function (this: unknown) {
      return storage.run(span, Reflect.apply as any, fn, this, arguments)
    }
    Object.defineProperty(bound, 'length', { value: fn.length })
    Object.defineProperty(bound, 'name', { value: fn.name })
    return bound as unknown as F
  }

  captureError (error: unknown, options?: CaptureErrorOptions): void {
    try {
      this.#onError(error, options)
    } catch (err) {
      this.log.limited('error', 'capture', `could not capture an error: ${String(err)}`)
    }
  }

  traceparent (span: Span): string {
    return formatTraceparent(span.traceId, span.id, span.transaction.sampled)
  }

  setTransactionName (transaction: Transaction, name: string, source: number): void {
    if (source >= transaction.nameSource && typeof name === 'string' && name !== '') {
      transaction.name = name
      transaction.nameSource = source
    }
  }
}
