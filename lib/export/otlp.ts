// OTLP/HTTP JSON encoding of spans and log records (hand-built strings: one pass, no intermediate objects).
import type { AttributeValue, Span } from '../trace/span'

/** A log record as the agent hands it to the exporter (errors are log records of severity ERROR). */
export interface LogRecordInput {
  time: number
  severityNumber: number
  severityText: string
  body: string
  attributes: Record<string, AttributeValue>
  traceId: string | undefined
  spanId: string | undefined
}

export interface Scope {
  name: string
  version: string
}

const q = JSON.stringify

/** Epoch milliseconds (fractional) → unix nanoseconds as a decimal string. */
export function nanos (ms: number): string {
  // Two halves keep the digits exact: a double holds ~15.9 significant digits, nanoseconds need 19.
  const whole = Math.floor(ms)
  const frac = Math.round((ms - whole) * 1e6)
  return frac >= 1e6 ? String(whole + 1) + '000000' : String(whole) + String(frac).padStart(6, '0')
}

function encodeValue (value: AttributeValue): string {
  switch (typeof value) {
    case 'string': return '{"stringValue":' + q(value) + '}'
    case 'boolean': return value ? '{"boolValue":true}' : '{"boolValue":false}'
    case 'number':
      if (Number.isInteger(value) && Number.isSafeInteger(value)) return '{"intValue":"' + value + '"}'
      if (Number.isFinite(value)) return '{"doubleValue":' + value + '}'
      return '{"stringValue":"' + String(value) + '"}'
    default: {
      let out = '{"arrayValue":{"values":['
      for (let i = 0; i < value.length; i++) {
        if (i > 0) out += ','
        out += encodeValue(value[i] as AttributeValue)
      }
      return out + ']}}'
    }
  }
}

export function encodeAttributes (attributes: Record<string, AttributeValue>): string {
  let out = '['
  let first = true
  for (const key in attributes) {
    const value = attributes[key]
    if (value === undefined || value === null) continue
    if (!first) out += ','
    first = false
    out += '{"key":' + q(key) + ',"value":' + encodeValue(value) + '}'
  }
  return out + ']'
}

function encodeSpan (span: Span): string {
  let out = '{"traceId":"' + span.traceId + '","spanId":"' + span.id + '"'
  if (span.parentId !== undefined) out += ',"parentSpanId":"' + span.parentId + '"'
  const tx = span.transaction
  if (tx.traceState !== undefined) out += ',"traceState":' + q(tx.traceState)
  out += ',"name":' + q(span.name) + ',"kind":' + span.kind +
    ',"startTimeUnixNano":"' + nanos(span.startTime) + '","endTimeUnixNano":"' + nanos(span.endTime) + '"'
  // Agent-level facts ride as attributes so any OTLP backend keeps them.
  let extra = ''
  if (tx === span) {
    extra = '{"key":"apm.transaction.type","value":{"stringValue":' + q(span.type) + '}}'
    if (tx.result !== undefined) extra += ',{"key":"apm.transaction.result","value":{"stringValue":' + q(tx.result) + '}}'
    if (tx.droppedSpans > 0) extra += ',{"key":"apm.spans.dropped","value":{"intValue":"' + tx.droppedSpans + '"}}'
    if (tx.remoteParent) extra += ',{"key":"apm.parent.remote","value":{"boolValue":true}}'
  } else {
    extra = '{"key":"apm.span.type","value":{"stringValue":' + q(span.type) + '}}'
  }
  const attrs = encodeAttributes(span.attributes)
  out += ',"attributes":[' + extra + (attrs.length > 2 ? ',' + attrs.slice(1) : ']')
  if (span.droppedAttributes > 0) out += ',"droppedAttributesCount":' + span.droppedAttributes
  const events = span.events
  if (events !== null && events.length > 0) {
    out += ',"events":['
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!
      if (i > 0) out += ','
      out += '{"timeUnixNano":"' + nanos(e.time) + '","name":' + q(e.name) + ',"attributes":' + encodeAttributes(e.attributes) + '}'
    }
    out += ']'
  }
  out += ',"status":{"code":' + span.statusCode
  if (span.statusMessage !== undefined) out += ',"message":' + q(span.statusMessage)
  return out + '}}'
}

/** Encode one span for a batch; exposed separately so the exporter can size batches. */
export { encodeSpan }

export function encodeTraces (resource: string, scope: Scope, encodedSpans: string[]): string {
  return '{"resourceSpans":[{"resource":' + resource + ',"scopeSpans":[{"scope":' + encodeScope(scope) +
    ',"spans":[' + encodedSpans.join(',') + ']}]}]}'
}

export function encodeLogRecord (record: LogRecordInput): string {
  const t = nanos(record.time)
  let out = '{"timeUnixNano":"' + t + '","observedTimeUnixNano":"' + t + '","severityNumber":' + record.severityNumber +
    ',"severityText":' + q(record.severityText) + ',"body":{"stringValue":' + q(record.body) + '}' +
    ',"attributes":' + encodeAttributes(record.attributes)
  if (record.traceId !== undefined) out += ',"traceId":"' + record.traceId + '"'
  if (record.spanId !== undefined) out += ',"spanId":"' + record.spanId + '"'
  return out + '}'
}

export function encodeLogs (resource: string, scope: Scope, encodedRecords: string[]): string {
  return '{"resourceLogs":[{"resource":' + resource + ',"scopeLogs":[{"scope":' + encodeScope(scope) +
    ',"logRecords":[' + encodedRecords.join(',') + ']}]}]}'
}

/** The resource never changes after start, so it is encoded once. */
export function encodeResource (attributes: Record<string, AttributeValue>): string {
  return '{"attributes":' + encodeAttributes(attributes) + '}'
}

function encodeScope (scope: Scope): string {
  return '{"name":' + q(scope.name) + ',"version":' + q(scope.version) + '}'
}
