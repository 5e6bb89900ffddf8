// From a captured value to what goes on the wire: an ERROR log record (linked to its trace) and an
// `exception` event on the span that was active. Source context and source maps are added asynchronously.
import { toErrorEvent, type ErrorEvent } from './errors/capture'
import { culprit, groupingKey } from './errors/grouping'
import { enrichFrames } from './errors/source'
import { formatFrame, type StackFrame } from './errors/stack'
import type { LogRecordInput } from './export/otlp'
import { join, sep } from 'node:path'
import { SpanKind, type AttributeValue, type Span } from './trace/span'

const SEVERITY_ERROR = 17
// apm's own files — built (dist/) or, through source maps, their sources (lib/, instrumentations/) — are never
// application frames, even when apm runs from a checkout inside the app's directory rather than node_modules.
const PACKAGE_ROOT = join(__dirname, '..', '..')
const AGENT_DIRS = ['dist', 'lib', 'instrumentations'].map((dir) => join(PACKAGE_ROOT, dir) + sep)
const MAX_FRAMES_JSON = 16 * 1024

export interface ErrorLink {
  span: Span | undefined
  /** Extra attributes for the record (user, request), already bounded. */
  attributes?: Record<string, AttributeValue>
}

/** Build the event synchronously (the stack must be read now), link it to the span, then enrich and emit. */
/** A captured error on its way out: emitted once source context is added, or at once by emitNow(). */
export interface PendingError {
  /** Settles (never rejects) once the record was emitted. */
  done: Promise<void>
  /** Emit now, without waiting for source context (the process is about to die). */
  emitNow (): void
}

/** Build the event synchronously (the stack must be read now), link it to the span, then enrich and emit once. */
export function reportError (value: unknown, handled: boolean, labels: Record<string, AttributeValue> | undefined, link: ErrorLink, appRoot: string, emit: (record: LogRecordInput) => void, captureSite: (...args: any[]) => any): PendingError {
  const event = toErrorEvent(value, { handled, appRoot, labels, syntheticStackFrom: captureSite })
  if (markAgentFrames(event.frames)) {
    event.culprit = culprit(event.frames)
    event.groupingKey = groupingKey(event.type, event.frames, event.message)
  }
  const span = link.span
  if (span !== undefined && !span.ended) {
    span.addEvent('exception', { 'exception.type': event.type, 'exception.message': event.message, 'exception.escaped': !handled })
    // A server transaction's status follows the response it sent (an error answered with 422 is not a failure of
    // the server); every other span is marked failed by the error raised under it.
    if (span.kind !== SpanKind.SERVER) span.setError(event.message)
  }
  const context = span === undefined
    ? undefined
    : { traceId: span.traceId, spanId: span.id, txName: span.transaction.name, txType: span.transaction.type }
  let emitted = false
  const emitNow = (): void => {
    if (emitted) return
    emitted = true
    // A framework may have renamed the transaction meanwhile (routing can finish after the error).
    if (context !== undefined) context.txName = span!.transaction.name
    const record = toLogRecord(event, context)
    if (extra !== undefined) Object.assign(record.attributes, extra)
    emit(record)
  }
  const extra = link.attributes
  const done = enrichFrames(event.frames, { appRoot }).then(emitNow, emitNow)
  return { done, emitNow }
}

function markAgentFrames (frames: StackFrame[]): boolean {
  let marked = false
  for (const f of frames) {
    if (f.inApp && f.absPath !== null && AGENT_DIRS.some((dir) => f.absPath!.startsWith(dir))) {
      f.inApp = false
      f.library = true
      marked = true
    }
  }
  return marked
}

function toLogRecord (event: ErrorEvent, context: { traceId: string, spanId: string, txName: string, txType: string } | undefined): LogRecordInput {
  const moved = event.frames.some((f) => f.generated !== undefined)
  const attributes: Record<string, AttributeValue> = {
    'exception.type': event.type,
    'exception.message': event.message,
    'exception.stacktrace': moved ? remapStack(event) : event.stacktrace,
    // Keyed on the source-mapped frames when a map moved them, as with --enable-source-maps: one key per bug either way.
    'apm.error.grouping_key': moved ? groupingKey(event.type, event.frames, event.message) : event.groupingKey,
    'apm.error.handled': event.handled
  }
  const top = moved ? culprit(event.frames) : event.culprit
  if (top !== null) attributes['apm.error.culprit'] = top
  if (context !== undefined) {
    attributes['apm.transaction.name'] = context.txName
    attributes['apm.transaction.type'] = context.txType
  }
  for (const key in event.attributes) attributes['exception.' + key] = event.attributes[key]!
  for (const key in event.labels) attributes['labels.' + key] = event.labels[key]!
  const frames = framesJson(event.frames)
  if (frames !== undefined) attributes['apm.error.frames'] = frames
  return {
    time: event.time,
    severityNumber: SEVERITY_ERROR,
    severityText: 'ERROR',
    body: event.message === '' ? event.type : event.message,
    attributes,
    traceId: context?.traceId,
    spanId: context?.spanId
  }
}

// The first section re-rendered from (source-mapped) frames; cause and aggregate sections kept as V8 wrote them.
function remapStack (event: ErrorEvent): string {
  const text = event.stacktrace
  const cause = text.indexOf('\nCaused by:')
  const aggregate = text.indexOf('\nAggregated error')
  const rest = cause === -1 ? aggregate : aggregate === -1 ? cause : Math.min(cause, aggregate)
  let out = event.message === '' ? event.type : `${event.type}: ${event.message}`
  for (const f of event.frames) out += '\n    ' + formatFrame(f)
  return rest === -1 ? out : out + text.slice(rest)
}

// Frames with source context, as a JSON string attribute (OTLP has no structured stack), bounded.
function framesJson (frames: StackFrame[]): string | undefined {
  if (frames.length === 0) return undefined
  const out: unknown[] = []
  let size = 2
  for (const f of frames) {
    const item: Record<string, unknown> = { function: f.function, file: f.file, line: f.line, column: f.column, inApp: f.inApp, library: f.library, native: f.native }
    if (f.contextLine !== undefined) {
      item.pre = f.preContext
      item.context = f.contextLine
      item.post = f.postContext
    }
    const encoded = JSON.stringify(item)
    if (size + encoded.length > MAX_FRAMES_JSON) break
    size += encoded.length + 1
    out.push(item)
  }
  return JSON.stringify(out)
}
