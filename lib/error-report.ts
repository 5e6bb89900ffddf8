// From a captured value to what goes on the wire: an ERROR log record (linked to its trace) and an
// `exception` event on the span that was active. Source context and source maps are added asynchronously.
import { toErrorEvent, type ErrorEvent } from './errors/capture'
import { culprit } from './errors/grouping'
import { enrichFrames } from './errors/source'
import { formatFrame, type StackFrame } from './errors/stack'
import type { LogRecordInput } from './export/otlp'
import type { AttributeValue, Span } from './trace/span'

const SEVERITY_ERROR = 17
const MAX_FRAMES_JSON = 16 * 1024

export interface ErrorLink {
  span: Span | undefined
}

/** Build the event synchronously (the stack must be read now), link it to the span, then enrich and emit. */
/** With enrich false the record is emitted synchronously, before this returns (used when the process is dying). */
export function reportError (value: unknown, handled: boolean, labels: Record<string, AttributeValue> | undefined, link: ErrorLink, appRoot: string, emit: (record: LogRecordInput) => void, captureSite: (...args: any[]) => any, enrich = true): Promise<void> {
  const event = toErrorEvent(value, { handled, appRoot, labels, syntheticStackFrom: captureSite })
  const span = link.span
  if (span !== undefined && !span.ended) {
    span.addEvent('exception', { 'exception.type': event.type, 'exception.message': event.message, 'exception.escaped': !handled })
    span.setError(event.message)
  }
  const context = span === undefined
    ? undefined
    : { traceId: span.traceId, spanId: span.id, txName: span.transaction.name, txType: span.transaction.type, tx: span.transaction }
  if (!enrich) {
    emit(toLogRecord(event, context))
    return Promise.resolve()
  }
  return enrichFrames(event.frames, { appRoot }).then(() => {
    // A framework may have renamed the transaction meanwhile (routing happens after the error in some apps).
    if (context !== undefined) context.txName = context.tx.name
    emit(toLogRecord(event, context))
  }, () => emit(toLogRecord(event, context)))
}

function toLogRecord (event: ErrorEvent, context: { traceId: string, spanId: string, txName: string, txType: string } | undefined): LogRecordInput {
  const moved = event.frames.some((f) => f.generated !== undefined)
  const attributes: Record<string, AttributeValue> = {
    'exception.type': event.type,
    'exception.message': event.message,
    'exception.stacktrace': moved ? remapStack(event) : event.stacktrace,
    'apm.error.grouping_key': event.groupingKey,
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

// The first section re-rendered from (source-mapped) frames; cause sections kept as V8 wrote them.
function remapStack (event: ErrorEvent): string {
  const rest = event.stacktrace.indexOf('\nCaused by:')
  let out = event.message === '' ? event.type : `${event.type}: ${event.message}`
  for (const f of event.frames) out += '\n    ' + formatFrame(f)
  return rest === -1 ? out : out + event.stacktrace.slice(rest)
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
