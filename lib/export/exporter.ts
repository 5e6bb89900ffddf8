// The export pipeline: bounded queues → batches (gzip off the main thread) → one request in flight → retry.
// Spans are encoded as they end, into the raw JSON of the batch being built (SpanBatch); errors (log records) wait
// in their own queue as objects and are encoded when their batch is taken.
import { gzip, gzipSync } from 'node:zlib'
import type { Logger } from '../logger'
import type { AttributeValue, Span } from '../trace/span'
import { DOCUMENT_TAIL, encodeLogRecord, encodeLogs, encodeSpan, tracesHead, type LogRecordInput, type Scope } from './otlp'
import { SpanBatch } from './span-batch'
import { emptyStats, type AgentStats, type DropReason } from './stats'
import type { SyncRequest } from './sync-send'
import type { SendResult, Transport } from './transport'

export interface ExporterOptions {
  maxQueueSize: number
  maxBatchSize: number
  flushIntervalMs: number
  requestTimeoutMs: number
  maxBackoffMs: number
  /** Encoded JSON bytes per request before gzip. */
  maxRequestBytes: number
}

interface Batch {
  path: '/v1/traces' | '/v1/logs'
  body: Buffer
  count: number
  attempt: number
}

const RETRYABLE = new Set([429, 502, 503, 504])
const MAX_RETRY_AFTER_MS = 60_000
const BACKOFF_BASE_MS = 500
// Encoding log records yields to the event loop after this much work in one turn (the clock is read every 16 events).
const ENCODE_SLICE_MS = 2
// The queues are bounded in size as well as in count: at most this many characters (spans: encoded bytes) per queue
// slot on average (the default attribute value limit), so a queue of maximal events cannot take gigabytes.
const CHARS_PER_SLOT = 8192
// A batch's buffer starts at this size and grows by doubling; one buffer up to SPARE_MAX_BYTES is kept for reuse.
const BATCH_INITIAL_BYTES = 64 * 1024
const SPARE_MAX_BYTES = 1024 * 1024
// Fixed cost of an event besides its text: ids, times, kind, status, the objects holding them.
const EVENT_OVERHEAD_CHARS = 256

/**
 * Retry delay after `attempt` failures: exponential from 500 ms, capped, with "equal jitter"
 * (half fixed, half random) so a fleet of agents does not retry in lock-step.
 */
export function backoffMs (attempt: number, maxBackoffMs: number, random = Math.random()): number {
  const ceiling = Math.min(maxBackoffMs, BACKOFF_BASE_MS * 2 ** Math.min(attempt - 1, 30))
  return Math.round(ceiling / 2 + random * ceiling / 2)
}

function nextTurn (): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

// Level 2 with the largest hash memory: on span batches ~12% faster than level 3 for 0.3% more bytes.
const GZIP_OPTIONS = { level: 2, memLevel: 9 }

function gzipAsync (json: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(json, GZIP_OPTIONS, (err, out) => { if (err) reject(err); else resolve(out) })
  })
}

export class Exporter {
  readonly #options: ExporterOptions
  readonly #transport: Transport
  readonly #log: Logger
  readonly #resource: string
  readonly #scope: Scope
  readonly #maxLogQueue: number
  readonly #stats: AgentStats = emptyStats()
  readonly #tracesHead: Buffer
  readonly #tail = Buffer.from(DOCUMENT_TAIL)
  // Spans: the batch being written, and full batches waiting to be sent (oldest first); their span and byte counts.
  #open: SpanBatch | undefined
  #full: SpanBatch[] = []
  #queuedSpans = 0
  #spanBytes = 0
  // The batch being compressed (its JSON stays readable for drainSync until it is sent), and a buffer to reuse.
  #compressing: SpanBatch | undefined
  #spare: Buffer | undefined
  #logs: LogRecordInput[] = []
  // Estimated characters held by the error queue; the budgets.
  #logChars = 0
  readonly #maxSpanBytes: number
  readonly #maxLogChars: number
  #timer: NodeJS.Timeout | undefined
  #immediate: NodeJS.Immediate | undefined
  #running = false
  #pending: Batch | undefined
  // Events taken from a queue and being encoded/compressed: counted as in flight so the books always balance.
  #encoding = 0
  #retryTimer: NodeJS.Timeout | undefined
  #abort: AbortController | undefined
  #flushRequested = false
  #waiters: Array<() => void> = []
  #closed = false

  constructor (options: ExporterOptions, transport: Transport, log: Logger, resource: string, scope: Scope) {
    this.#options = options
    this.#transport = transport
    this.#log = log
    this.#resource = resource
    this.#scope = scope
    // Errors have their own, smaller queue: a flood of spans never pushes an error out.
    this.#maxLogQueue = Math.max(16, Math.min(1024, Math.ceil(options.maxQueueSize / 4)))
    this.#tracesHead = Buffer.from(tracesHead(resource, scope))
    this.#maxSpanBytes = options.maxQueueSize * CHARS_PER_SLOT
    this.#maxLogChars = this.#maxLogQueue * CHARS_PER_SLOT
  }

  stats (): AgentStats {
    const s = this.#stats
    return { ...s, droppedByReason: { ...s.droppedByReason }, queued: this.#queuedSpans + this.#logs.length, inFlight: (this.#pending?.count ?? 0) + this.#encoding }
  }

  /** Encode an ended span into the open batch. Never throws; drops (and counts) the newest when the queue is full. */
  pushSpan (span: Span): void {
    this.#stats.produced++
    if (this.#closed || this.#queuedSpans >= this.#options.maxQueueSize) {
      this.#drop(this.#closed ? 'shutdown' : 'queue_full', 1)
      return
    }
    let json: string
    try {
      json = encodeSpan(span)
    } catch (err) {
      this.#encodeFailed('a span', err)
      return
    }
    if (this.#spanBytes + json.length > this.#maxSpanBytes && this.#queuedSpans > 0) {
      this.#drop('queue_full', 1)
      return
    }
    const limit = this.#options.maxRequestBytes
    let batch = this.#open ?? (this.#open = this.#newBatch())
    let before = batch.bytes
    if (!batch.append(json, limit)) {
      // Too big for what is left of this request: it starts the next one, unless it cannot fit in any.
      if (batch.count > 0) {
        this.#closeOpen()
        batch = this.#open = this.#newBatch()
        before = batch.bytes
      }
      if (!batch.append(json, limit)) {
        this.#drop('too_large', 1)
        return
      }
    }
    this.#queuedSpans++
    this.#spanBytes += batch.bytes - before
    if (batch.count >= this.#options.maxBatchSize) {
      this.#closeOpen()
      this.#schedule(true)
    } else {
      this.#schedule(false)
    }
  }

  #newBatch (): SpanBatch {
    const spare = this.#spare
    this.#spare = undefined
    return new SpanBatch(this.#tracesHead, this.#tail, spare ?? Buffer.allocUnsafeSlow(BATCH_INITIAL_BYTES))
  }

  // The open batch joins the full ones (in order), to be sent next.
  #closeOpen (): void {
    const batch = this.#open
    this.#open = undefined
    if (batch !== undefined && batch.count > 0) this.#full.push(batch)
  }

  // A sent (or dropped) batch's buffer is kept for the next batch when it is not too large.
  #recycle (batch: SpanBatch): void {
    const buf = batch.buffer
    if (buf.length <= SPARE_MAX_BYTES && (this.#spare === undefined || this.#spare.length < buf.length)) this.#spare = buf
  }

  pushLog (record: LogRecordInput): void {
    this.#stats.produced++
    if (this.#closed || this.#logs.length >= this.#maxLogQueue) {
      this.#drop(this.#closed ? 'shutdown' : 'queue_full', 1)
      return
    }
    const chars = logChars(record)
    if (this.#logChars + chars > this.#maxLogChars && this.#logs.length > 0) {
      this.#drop('queue_full', 1)
      return
    }
    this.#logChars += chars
    this.#logs.push(record)
    this.#schedule(true)
  }

  /** True when nothing is queued, in flight or waiting for a retry. */
  get idle (): boolean {
    return this.#queuedSpans === 0 && this.#logs.length === 0 && this.#pending === undefined && !this.#running
  }

  /**
   * Send everything queued now. Resolves (never rejects) when the queue is empty, when a send failed
   * and was scheduled for retry, or at the deadline — whichever comes first. With abortAtDeadline the
   * request in flight is abandoned at the deadline (used at process exit).
   */
  flush (timeoutMs = this.#options.requestTimeoutMs, abortAtDeadline = false): Promise<void> {
    if (this.idle) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        if (abortAtDeadline) this.#abort?.abort(new Error('flush deadline'))
        finish()
      }, timeoutMs)
      timer.unref()
      this.#waiters.push(finish)
      this.#flushRequested = true
      // An explicit flush does not wait out a back-off: it tries the pending batch now.
      if (this.#retryTimer !== undefined) {
        clearTimeout(this.#retryTimer)
        this.#retryTimer = undefined
      }
      // Start now, not on an (unref'd) immediate: at beforeExit nothing else keeps the loop alive until then.
      if (this.#immediate !== undefined) {
        clearImmediate(this.#immediate)
        this.#immediate = undefined
      }
      if (!this.#running && !this.#closed) this.#onImmediate()
    })
  }

  /** Stop accepting events, try to send what is queued within timeoutMs, then release the connection. */
  async close (timeoutMs: number): Promise<void> {
    await this.flush(timeoutMs, true)
    this.#closed = true
    clearTimeout(this.#timer)
    clearTimeout(this.#retryTimer)
    if (this.#immediate !== undefined) clearImmediate(this.#immediate)
    this.#timer = this.#retryTimer = this.#immediate = undefined
    const left = this.#queuedSpans + this.#logs.length + (this.#pending?.count ?? 0)
    this.#open = undefined
    this.#full = []
    this.#queuedSpans = this.#spanBytes = 0
    this.#logs = []
    this.#logChars = 0
    this.#pending = undefined
    if (left > 0) this.#drop('shutdown', left)
    await this.#transport.close()
  }

  /**
   * Everything waiting (the batch in flight or held for retry, errors, spans), encoded and compressed
   * synchronously, for the last-chance send when the process is about to die. Empties the queues.
   */
  drainSync (): SyncRequest[] {
    const out: SyncRequest[] = []
    if (this.#pending !== undefined) out.push({ path: this.#pending.path, body: this.#pending.body })
    this.#pending = undefined
    const max = this.#options.maxBatchSize
    const limit = this.#options.maxRequestBytes
    while (this.#logs.length > 0) {
      const parts = this.#encodeAll(this.#logs.splice(0, max), encodeLogRecord, limit, this.#logs)
      if (parts.length > 0) out.push({ path: '/v1/logs', body: gzipSync(encodeLogs(this.#resource, this.#scope, parts), { level: 1 }) })
    }
    // The batch being compressed is sent from its JSON (its compression finishing later changes nothing).
    const compressing = this.#compressing
    this.#compressing = undefined
    this.#closeOpen()
    const batches = compressing === undefined ? this.#full : [compressing, ...this.#full]
    for (const batch of batches) out.push({ path: '/v1/traces', body: gzipSync(batch.finish(), { level: 1 }) })
    if (compressing !== undefined) this.#encoding = 0
    this.#full = []
    this.#queuedSpans = this.#spanBytes = this.#logChars = 0
    return out
  }

  #drop (reason: DropReason, count: number): void {
    const s = this.#stats
    s.dropped += count
    s.droppedByReason[reason] += count
    if (reason === 'queue_full') {
      this.#log.limited('warn', 'queue_full', `export queue full (maxQueueSize ${this.#options.maxQueueSize} events, or their size): dropping new events; ${s.droppedByReason.queue_full} dropped so far`)
    }
  }

  #schedule (now: boolean): void {
    if (now) {
      this.#kick()
    } else if (this.#timer === undefined && this.#retryTimer === undefined && !this.#running) {
      this.#timer = setTimeout(this.#onTimer, this.#options.flushIntervalMs)
      this.#timer.unref()
    }
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined
    this.#kick()
  }

  // Start a send loop on the next turn, unless one runs or a retry is waiting for its back-off.
  #kick (): void {
    if (this.#running || this.#immediate !== undefined || this.#retryTimer !== undefined || this.#closed) return
    this.#immediate = setImmediate(this.#onImmediate)
    this.#immediate.unref()
  }

  readonly #onImmediate = (): void => {
    this.#immediate = undefined
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    this.#run().catch((err) => this.#log.limited('error', 'export-loop', `export failed unexpectedly: ${String(err)}`))
  }

  async #run (): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      for (;;) {
        const batch = this.#pending ?? await this.#takeBatch()
        if (batch === undefined) break
        this.#pending = batch
        const retry = await this.#send(batch)
        if (retry !== undefined) {
          this.#retryTimer = setTimeout(this.#onRetry, retry)
          this.#retryTimer.unref()
          break
        }
        this.#pending = undefined
        if (this.#queuedSpans + this.#logs.length === 0) break
        // A partly filled batch waits for its time unless a flush asked for everything.
        if (!this.#flushRequested && this.#logs.length === 0 && this.#full.length === 0) break
      }
    } finally {
      this.#running = false
      this.#flushRequested = false
      const waiters = this.#waiters
      this.#waiters = []
      for (const w of waiters) w()
      if (this.#retryTimer === undefined && (this.#queuedSpans > 0 || this.#logs.length > 0)) this.#schedule(false)
    }
  }

  readonly #onRetry = (): void => {
    this.#retryTimer = undefined
    this.#kick()
  }

  // Take and compress the next batch: errors first (encoded here, in slices over several turns of the event loop),
  // then spans (already encoded as they ended). Compression runs on the thread pool.
  async #takeBatch (): Promise<Batch | undefined> {
    for (;;) {
      let path: Batch['path']
      let count: number
      let json: string | Buffer
      let spans: SpanBatch | undefined
      if (this.#logs.length > 0) {
        path = '/v1/logs'
        const records = this.#logs.splice(0, this.#options.maxBatchSize)
        this.#logChars = this.#logs.length === 0 ? 0 : Math.max(0, this.#logChars - sumChars(records, logChars))
        const parts = await this.#encodeSliced(records, encodeLogRecord, (rest) => {
          this.#logs = rest.concat(this.#logs)
          this.#logChars += sumChars(rest, logChars)
        })
        if (parts.length === 0) {
          if (this.#closed) return undefined
          continue
        }
        count = parts.length
        json = encodeLogs(this.#resource, this.#scope, parts)
      } else {
        if (this.#full.length === 0) this.#closeOpen()
        spans = this.#full.shift()
        if (spans === undefined) return undefined
        path = '/v1/traces'
        count = spans.count
        this.#queuedSpans -= count
        // The budget counts the spans' bytes (what pushSpan added), not the document head.
        this.#spanBytes = this.#queuedSpans === 0 ? 0 : Math.max(0, this.#spanBytes - (spans.bytes - this.#tracesHead.length))
        this.#encoding = count
        this.#compressing = spans
        json = spans.finish()
      }
      let body: Buffer | undefined
      try {
        body = await gzipAsync(json)
      } catch (err) {
        this.#log.limited('error', 'gzip', `could not compress an export batch: ${String(err)}`)
      }
      if (spans !== undefined) {
        // drainSync sent this batch while it was being compressed.
        if (this.#compressing !== spans) return undefined
        this.#compressing = undefined
        this.#recycle(spans)
      }
      this.#encoding = 0
      if (this.#closed) {
        // close() gave up while this batch was being prepared.
        this.#drop('shutdown', count)
        return undefined
      }
      if (body === undefined) {
        this.#drop('encode', count)
        continue
      }
      const batch: Batch = { path, body, count, attempt: 0 }
      this.#pending = batch
      return batch
    }
  }

  // #encodeAll for the async path: yields to the event loop after ENCODE_SLICE_MS of work. Items taken out of a queue
  // are counted in #encoding until they are in a batch, dropped, or handed back (putBack) to the queue's front.
  async #encodeSliced<T> (items: T[], encode: (item: T) => string, putBack: (rest: T[]) => void): Promise<string[]> {
    const limit = this.#options.maxRequestBytes
    const parts: string[] = []
    let bytes = 0
    this.#encoding = items.length
    let sliceStart = performance.now()
    for (let i = 0; i < items.length; i++) {
      if (i > 0 && (i & 15) === 0 && performance.now() - sliceStart >= ENCODE_SLICE_MS) {
        await nextTurn()
        sliceStart = performance.now()
        if (this.#closed) {
          this.#drop('shutdown', this.#encoding)
          this.#encoding = 0
          return []
        }
      }
      const encoded = this.#encodeOne(items[i]!, encode, limit)
      if (encoded === undefined) {
        this.#encoding--
        continue
      }
      if (bytes + encoded.length > limit) {
        const rest = items.slice(i)
        this.#encoding -= rest.length
        putBack(rest)
        break
      }
      bytes += encoded.length + 1
      parts.push(encoded)
    }
    return parts
  }

  #encodeFailed (what: string, err: unknown): void {
    this.#drop('encode', 1)
    this.#log.limited('error', 'encode', `could not encode ${what}: ${String(err)}`)
  }

  // One encoded event, or undefined when it could not be encoded or exceeds a whole request (dropped, counted).
  #encodeOne<T> (item: T, encode: (item: T) => string, limit: number): string | undefined {
    let encoded: string
    try {
      encoded = encode(item)
    } catch (err) {
      this.#encodeFailed('an event', err)
      return undefined
    }
    if (encoded.length > limit) {
      this.#drop('too_large', 1)
      return undefined
    }
    return encoded
  }

  // Encode items until the request would exceed `limit` bytes; the rest go back to the queue's front.
  #encodeAll<T> (items: T[], encode: (item: T) => string, limit: number, queue: T[]): string[] {
    const parts: string[] = []
    let bytes = 0
    for (let i = 0; i < items.length; i++) {
      const encoded = this.#encodeOne(items[i]!, encode, limit)
      if (encoded === undefined) continue
      if (bytes + encoded.length > limit) {
        queue.unshift(...items.slice(i))
        break
      }
      bytes += encoded.length + 1
      parts.push(encoded)
    }
    return parts
  }

  // Send one batch; returns a delay when it should be retried, undefined when it is settled.
  async #send (batch: Batch): Promise<number | undefined> {
    const abort = new AbortController()
    this.#abort = abort
    const deadline = setTimeout(() => abort.abort(new Error(`export request timed out after ${this.#options.requestTimeoutMs} ms`)), this.#options.requestTimeoutMs)
    deadline.unref()
    this.#stats.requests++
    // Every attempt after the first is a retry, whether its back-off ran out or a flush() cut it short.
    if (batch.attempt > 0) this.#stats.retries++
    batch.attempt++
    let result: SendResult
    try {
      result = await this.#transport.send(batch.path, batch.body, abort.signal)
    } finally {
      clearTimeout(deadline)
      this.#abort = undefined
    }
    // close() already counted this batch as dropped (shutdown) while the request was in flight.
    if (this.#pending !== batch) return undefined
    if (result.ok) {
      this.#accept(batch, result.body)
      return undefined
    }
    this.#stats.failedRequests++
    if (result.status === 0 || RETRYABLE.has(result.status)) {
      // Retry-After is honoured up to 60 s, but never below the back-off: `Retry-After: 0` (or a date in the past,
      // or an unreadable value) must not become a tight retry loop.
      const backoff = backoffMs(batch.attempt, this.#options.maxBackoffMs)
      const delay = result.retryAfterMs !== undefined
        ? Math.max(Math.min(result.retryAfterMs, MAX_RETRY_AFTER_MS), backoff)
        : backoff
      const why = result.status === 0 ? (result as { error: Error }).error.message : `HTTP ${result.status}`
      const message = `export to ${batch.path} failed (${why}); retrying in ${delay} ms, ${batch.count} events held, ${this.#queuedSpans + this.#logs.length} queued`
      if (!this.#log.limited('warn', 'export-retry', message)) this.#log.debug(message)
      return delay
    }
    this.#drop('http_status', batch.count)
    const body = 'body' in result ? result.body.slice(0, 200).replace(/\s+/g, ' ') : ''
    const hint = result.status === 401 || result.status === 403 ? ' (check secretToken)' : ''
    this.#log.limited('warn', `export-${result.status}`, `export to ${batch.path} rejected with HTTP ${result.status}${hint}: ${body}; ${batch.count} events dropped`)
    return undefined
  }

  // 2xx: everything delivered unless the receiver reports a partial success.
  #accept (batch: Batch, body: string): void {
    let rejected = 0
    if (body.length > 0 && body.includes('partialSuccess')) {
      try {
        const partial = JSON.parse(body)?.partialSuccess
        const n = Number(partial?.rejectedSpans ?? partial?.rejectedLogRecords ?? 0)
        if (Number.isFinite(n) && n > 0) rejected = Math.min(Math.floor(n), batch.count)
        if (rejected > 0) {
          const message = typeof partial?.errorMessage === 'string' ? partial.errorMessage.slice(0, 200) : ''
          this.#log.limited('warn', 'partial', `receiver rejected ${rejected} of ${batch.count} events: ${message}`)
        }
      } catch {}
    }
    this.#stats.delivered += batch.count - rejected
    if (rejected > 0) this.#drop('rejected', rejected)
  }
}

// Estimated size of an event in characters: the text it holds (names, attribute keys and values, event texts).
function attributeChars (attributes: Record<string, AttributeValue>): number {
  let n = 0
  for (const key in attributes) {
    const value = attributes[key]
    n += key.length
    if (typeof value === 'string') n += value.length
    else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) n += typeof value[i] === 'string' ? (value[i] as string).length : 8
    else n += 8
  }
  return n
}

function logChars (record: LogRecordInput): number {
  return EVENT_OVERHEAD_CHARS + record.body.length + attributeChars(record.attributes)
}

function sumChars<T> (items: T[], size: (item: T) => number): number {
  let n = 0
  for (let i = 0; i < items.length; i++) n += size(items[i]!)
  return n
}
