// Span and Transaction: raw values recorded on the request path; encoding happens in the exporter.
import { newSpanId, newTraceId } from './ids'
import type { RemoteParent } from './traceparent'

export type AttributeValue = string | number | boolean | ReadonlyArray<string | number | boolean>

/** OTLP span kinds, as their wire integers. */
export const SpanKind = {
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5
} as const
export type SpanKindValue = typeof SpanKind[keyof typeof SpanKind]

/** OTLP status codes. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const

export interface SpanEvent {
  name: string
  time: number
  attributes: Record<string, AttributeValue>
}

/** Limits applied while recording; the agent builds one from its config. */
export interface SpanLimits {
  maxAttributes: number
  maxAttributeLength: number
  maxSpansPerTransaction: number
}

/** Where ended spans go (the agent's queue); kept as an interface so span.ts imports no exporter. */
export interface SpanSink {
  limits: SpanLimits
  config: { captureHeaders: boolean, sanitizeFieldNames: readonly string[] }
  onSpanEnd (span: Span): void
}

// Epoch milliseconds with sub-millisecond precision from the monotonic clock.
const timeOrigin = performance.timeOrigin
export function now (): number {
  return timeOrigin + performance.now()
}

export class Span {
  readonly traceId: string
  readonly id: string
  parentId: string | undefined
  readonly transaction: Transaction
  readonly kind: SpanKindValue
  name: string
  type: string
  readonly startTime: number
  endTime = 0
  /**
   * Attribute keys and their values, in the order they were first set: parallel arrays are cheaper to fill and to
   * encode than an object whose shape differs from span to span (`attributes` builds that object on demand).
   */
  readonly attributeKeys: string[] = []
  readonly attributeValues: AttributeValue[] = []
  droppedAttributes = 0
  statusCode: number = StatusCode.UNSET
  statusMessage: string | undefined = undefined
  events: SpanEvent[] | null = null
  /** The parent span in this process (undefined for a transaction). */
  parentSpan: Span | undefined
  /** Called once after end(); the manual API uses it to restore the parent as current span. */
  onEnd: ((span: Span) => void) | undefined = undefined

  constructor (transaction: Transaction | null, parent: Span | undefined, name: string, type: string, kind: SpanKindValue, startTime: number | undefined) {
    // A Transaction passes null and sets its own trace fields before calling super.
    this.transaction = transaction ?? (this as unknown as Transaction)
    this.traceId = transaction === null ? '' : transaction.traceId
    this.id = newSpanId()
    this.parentId = parent?.id
    this.parentSpan = parent
    this.name = name
    this.type = type
    this.kind = kind
    this.startTime = startTime ?? now()
  }

  get ended (): boolean {
    return this.endTime !== 0
  }

  /** The attributes as an object (a copy: setAttribute is the way to change them). */
  get attributes (): Record<string, AttributeValue> {
    const out: Record<string, AttributeValue> = {}
    for (let i = 0; i < this.attributeKeys.length; i++) out[this.attributeKeys[i]!] = this.attributeValues[i]!
    return out
  }

  /** Record an attribute; keys beyond the per-span limit are counted, long strings truncated. */
  setAttribute (key: string, value: AttributeValue | null | undefined): this {
    if (value === undefined || value === null || this.endTime !== 0) return this
    const limits = this.transaction.sink.limits
    const keys = this.attributeKeys
    // Keys are mostly the same literal strings: the search compares references first.
    let index = 0
    while (index < keys.length && keys[index] !== key) index++
    if (index === keys.length) {
      if (index >= limits.maxAttributes) {
        this.droppedAttributes++
        return this
      }
      keys.push(key)
    }
    const max = limits.maxAttributeLength
    this.attributeValues[index] = typeof value === 'string' ? truncate(value, max) : Array.isArray(value) ? truncateArray(value, max) : value
    return this
  }

  /** Mark the span failed (status ERROR); the message is kept short. */
  setError (message?: string): this {
    this.statusCode = StatusCode.ERROR
    if (message !== undefined) this.statusMessage = truncate(String(message), 1024)
    return this
  }

  addEvent (name: string, attributes: Record<string, AttributeValue>, time?: number): this {
    if (this.endTime !== 0) return this
    const events = this.events ?? (this.events = [])
    if (events.length < 32) events.push({ name, time: time ?? now(), attributes })
    return this
  }

  /** End the span (idempotent). Ending hands it to the exporter's queue. */
  end (endTime?: number): void {
    if (this.endTime !== 0) return
    const t = typeof endTime === 'number' && endTime >= this.startTime ? endTime : now()
    this.endTime = t
    if (this.transaction.sampled) this.transaction.sink.onSpanEnd(this)
    if (this.onEnd !== undefined) this.onEnd(this)
  }

  /** Duration in milliseconds (0 until ended). */
  get duration (): number {
    return this.endTime === 0 ? 0 : this.endTime - this.startTime
  }
}

export class Transaction extends Span {
  readonly isTransaction = true
  readonly sink: SpanSink
  override readonly traceId: string
  readonly remoteParent: boolean
  readonly traceState: string | undefined
  readonly sampled: boolean
  /** Spans started (including dropped ones) and spans not recorded because of the limit. */
  spanCount = 0
  droppedSpans = 0
  result: string | undefined = undefined
  /** Set once a framework (or the user) gave a better name than `METHOD /path`. */
  nameSource = 0

  constructor (sink: SpanSink, name: string, type: string, kind: SpanKindValue, remote: RemoteParent | null, sampled: boolean, startTime?: number) {
    super(null, undefined, name, type, kind, startTime)
    this.sink = sink
    this.traceId = remote === null ? newTraceId() : remote.traceId
    // A transaction's parent is the remote caller's span, if any.
    this.parentId = remote === null ? undefined : remote.spanId
    this.remoteParent = remote !== null
    this.traceState = remote?.traceState
    this.sampled = sampled
  }

  /** Reserve a slot for a child span; false once the per-transaction limit is reached. */
  reserveSpan (): boolean {
    if (this.endTime !== 0) return false
    if (this.spanCount >= this.sink.limits.maxSpansPerTransaction) {
      this.droppedSpans++
      return false
    }
    this.spanCount++
    return true
  }
}

export function truncate (value: string, max: number): string {
  return value.length > max ? value.slice(0, max) : value
}

// An array value is bounded like a string: at most `max` characters over all its elements (numbers and booleans
// count as their text), the element that crosses the limit cut, later ones left out.
function truncateArray (value: ReadonlyArray<string | number | boolean>, max: number): ReadonlyArray<string | number | boolean> {
  let size = 0
  for (let i = 0; i < value.length; i++) {
    const item = value[i]!
    const length = typeof item === 'string' ? item.length : String(item).length
    if (size + length > max) {
      const out = value.slice(0, i)
      if (typeof item === 'string' && size < max) out.push(item.slice(0, max - size))
      return out
    }
    size += length
  }
  return value
}
