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

// A JSON string literal. Short strings that need no escaping (names, routes, most values) are quoted directly:
// JSON.stringify is a call into the runtime, several times the cost of this scan for them.
function q (s: string): string {
  if (s.length > 64) return JSON.stringify(s)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // Control characters, `"`, `\` and (possibly lone) surrogates need JSON.stringify's escaping.
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s)
  }
  return '"' + s + '"'
}

// V8 keeps a concatenation as a rope (a tree of pieces) until something needs it flat. A cached piece that stays
// a rope is walked again inside every span that uses it; converting it to a number once flattens it in place
// (the trick of the flatstr package), after which it is copied in one go.
function flatten (s: string): string {
  return Number.isNaN(Number(s)) ? s : s
}

// Zero padding by digit count: of the sub-millisecond part (6 digits) and of the millisecond within its second (3).
const PAD = ['000000', '00000', '0000', '000', '00', '0', '']
const PAD3 = ['000', '00', '0', '']
// A span's start and end, and consecutive spans, mostly fall within the same second: its digits are reused (the
// decimal text of a 13-digit millisecond count is a slow conversion; of small integers a fast one).
let lastSecond = -1
let lastSecondDigits = ''

/** Epoch milliseconds (fractional) → unix nanoseconds as a decimal string. */
export function nanos (ms: number): string {
  // In parts, to keep the digits exact: a double holds ~15.9 significant digits, nanoseconds need 19.
  let whole = Math.floor(ms)
  let frac = Math.round((ms - whole) * 1e6)
  if (frac >= 1e6) {
    whole++
    frac = 0
  }
  const second = Math.floor(whole / 1000)
  if (second !== lastSecond) {
    lastSecond = second
    lastSecondDigits = second === 0 ? '' : String(second)
  }
  const milli = '' + (whole - second * 1000)
  const micro = '' + frac
  return second === 0 ? String(whole) + PAD[micro.length] + micro : lastSecondDigits + PAD3[milli.length] + milli + PAD[micro.length] + micro
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
  const list = encodeAttributeList(attributes)
  return list === '' ? '[]' : '[' + list.slice(1) + ']'
}

// Attribute keys come from a small vocabulary and their values repeat (method, scheme, host, port, status):
// per key, the encoded `,{"key":…,"value":` prefix and the last primitive value with its whole encoding are
// kept (with the leading comma, so a span appends one piece per attribute).
interface KeyCache { prefix: string, value: AttributeValue | undefined, encoded: string }
const keyCache = new Map<string, KeyCache>()
const MAX_CACHED_KEYS = 1024

/** `,{"key":…,"value":{…}}` */
function encodeAttribute (key: string, value: AttributeValue): string {
  let entry = keyCache.get(key)
  if (entry === undefined) {
    entry = { prefix: flatten(',{"key":' + q(key) + ',"value":'), value: undefined, encoded: '' }
    if (keyCache.size < MAX_CACHED_KEYS) keyCache.set(key, entry)
  } else if (entry.value === value) {
    return entry.encoded
  }
  const encoded = entry.prefix + encodeValue(value) + '}'
  if (typeof value !== 'object') {
    entry.value = value
    entry.encoded = flatten(encoded)
  }
  return encoded
}

// The members of an attributes array, each with a leading comma.
function encodeAttributeList (attributes: Record<string, AttributeValue>): string {
  let out = ''
  for (const key in attributes) {
    const value = attributes[key]
    if (value === undefined || value === null) continue
    out += encodeAttribute(key, value)
  }
  return out
}

// The attributes of a span mostly repeat those of the previous span of the same name (the same route, the same
// statement, the same client): the encoded run is then reused whole, as one flat string. Writing a span into its
// batch makes V8 flatten the concatenation, at a cost that grows with the number of pieces (in a micro-benchmark,
// ~1.0 µs for a span of ~65 pieces against ~0.5 µs for the same bytes in ~20); a run that changed costs ~0.1 µs
// more than building it plainly (it is flattened once more, and remembered).
interface AttributeRun { keys: string[], values: AttributeValue[], encoded: string }
const runs = new Map<string, AttributeRun>()
const MAX_RUNS = 256
// Longer runs are encoded plainly (comparing them costs more than it saves, and they rarely repeat).
const MAX_RUN_LENGTH = 32

function encodeAttributeRun (name: string, keys: readonly string[], values: readonly AttributeValue[]): string {
  const n = keys.length
  const last = runs.get(name)
  if (last !== undefined && last.keys.length === n) {
    let same = true
    for (let i = 0; i < n; i++) {
      if (last.keys[i] !== keys[i] || last.values[i] !== values[i]) {
        same = false
        break
      }
    }
    if (same) return last.encoded
  }
  let out = ''
  // Array values are compared by identity, and an array can change between spans: runs with one are not kept.
  let primitive = n <= MAX_RUN_LENGTH
  for (let i = 0; i < n; i++) {
    const value = values[i]!
    if (typeof value === 'object') primitive = false
    out += encodeAttribute(keys[i]!, value)
  }
  if (primitive) {
    if (last === undefined && runs.size >= MAX_RUNS) runs.clear()
    out = flatten(out)
    runs.set(name, { keys: keys.slice(), values: values.slice(), encoded: out })
  }
  return out
}

// Encoded agent-level attributes for the few values they take (transaction types and results).
const typeAttr = new Map<string, string>()
const spanTypeAttr = new Map<string, string>()
const resultAttr = new Map<string, string>()
function cachedAttr (cache: Map<string, string>, prefix: string, value: string): string {
  let encoded = cache.get(value)
  if (encoded === undefined) {
    encoded = flatten(prefix + q(value) + '}}')
    if (cache.size < 256) cache.set(value, encoded)
  }
  return encoded
}

// Constant runs of the span document, by span kind and status code (fewer pieces to concatenate per span).
const KIND_START: string[] = []
for (let kind = 0; kind <= 5; kind++) KIND_START.push(',"kind":' + kind + ',"startTimeUnixNano":"')
const STATUS_END: string[] = []
for (let code = 0; code <= 2; code++) STATUS_END.push('],"status":{"code":' + code + '}}')

function encodeSpan (span: Span): string {
  let out = '{"traceId":"' + span.traceId + '","spanId":"' + span.id + '"'
  if (span.parentId !== undefined) out += ',"parentSpanId":"' + span.parentId + '"'
  const tx = span.transaction
  if (tx.traceState !== undefined) out += ',"traceState":' + q(tx.traceState)
  out += ',"name":' + q(span.name)
  out += KIND_START[span.kind] ?? ',"kind":' + span.kind + ',"startTimeUnixNano":"'
  out += nanos(span.startTime)
  out += '","endTimeUnixNano":"'
  out += nanos(span.endTime)
  // Agent-level facts ride as attributes so any OTLP backend keeps them.
  if (tx === span) {
    out += cachedAttr(typeAttr, '","attributes":[{"key":"apm.transaction.type","value":{"stringValue":', span.type)
    if (tx.result !== undefined) out += cachedAttr(resultAttr, ',{"key":"apm.transaction.result","value":{"stringValue":', tx.result)
    if (tx.droppedSpans > 0) out += ',{"key":"apm.spans.dropped","value":{"intValue":"' + tx.droppedSpans + '"}}'
    if (tx.remoteParent) out += ',{"key":"apm.parent.remote","value":{"boolValue":true}}'
  } else {
    out += cachedAttr(spanTypeAttr, '","attributes":[{"key":"apm.span.type","value":{"stringValue":', span.type)
  }
  if (span.attributeKeys.length > 0) out += encodeAttributeRun(span.name, span.attributeKeys, span.attributeValues)
  const events = span.events
  if (span.droppedAttributes === 0 && (events === null || events.length === 0) && span.statusMessage === undefined) {
    return out + (STATUS_END[span.statusCode] ?? '],"status":{"code":' + span.statusCode + '}}')
  }
  out += ']'
  if (span.droppedAttributes > 0) out += ',"droppedAttributesCount":' + span.droppedAttributes
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

/** A traces document up to its spans array: the exporter writes spans after it as they end. */
export function tracesHead (resource: string, scope: Scope): string {
  return '{"resourceSpans":[{"resource":' + resource + ',"scopeSpans":[{"scope":' + encodeScope(scope) + ',"spans":['
}

/** What closes a document opened by tracesHead or encodeLogs' head. */
export const DOCUMENT_TAIL = ']}]}]}'

export function encodeTraces (resource: string, scope: Scope, encodedSpans: string[]): string {
  return joinBatch(tracesHead(resource, scope), encodedSpans)
}

// head + items joined by commas + the closing brackets, built by one join: wrapping the joined string in
// another concatenation would make the body a rope that is copied once more before it is compressed.
function joinBatch (head: string, items: string[]): string {
  const n = items.length
  if (n === 0) return head + DOCUMENT_TAIL
  const pieces = items.slice()
  pieces[0] = head + pieces[0]
  pieces[n - 1] = pieces[n - 1] + DOCUMENT_TAIL
  return pieces.join(',')
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
  return joinBatch('{"resourceLogs":[{"resource":' + resource + ',"scopeLogs":[{"scope":' + encodeScope(scope) + ',"logRecords":[', encodedRecords)
}

/** The resource never changes after start, so it is encoded once. */
export function encodeResource (attributes: Record<string, AttributeValue>): string {
  return '{"attributes":' + encodeAttributes(attributes) + '}'
}

function encodeScope (scope: Scope): string {
  return '{"name":' + q(scope.name) + ',"version":' + q(scope.version) + '}'
}
