// Turns anything thrown (Error, string, null, Proxy, circular object…) into a bounded, plain ErrorEvent; never throws.
import { performance } from 'node:perf_hooks'
import { parseStack, formatFrame, DEFAULT_MAX_FRAMES } from './stack'
import type { StackFrame } from './stack'
import { groupingKey, culprit } from './grouping'
import { isSensitiveName } from '../sanitize'

export type AttributeValue = string | number | boolean

/** One error of a `cause` chain or of an `AggregateError`'s `errors`. */
export interface ErrorCause {
  type: string
  message: string
  frames: StackFrame[]
  /** 'cause' for err.cause (depth 1 = the direct cause), 'aggregate' for AggregateError.errors[index]. */
  relation: 'cause' | 'aggregate'
  depth: number
  index?: number
}

export interface ErrorEvent {
  type: string
  message: string
  /** The original stack, cut to the frame limit, with `Caused by:` / `Aggregated error` sections. */
  stacktrace: string
  frames: StackFrame[]
  groupingKey: string
  culprit: string | null
  handled: boolean
  /** The err.cause chain, nearest first, then AggregateError members. */
  causes: ErrorCause[]
  /** Unix time in milliseconds (fractional). */
  time: number
  /** Primitive own properties of the error (code, errno, syscall, …), bounded. */
  attributes: Record<string, AttributeValue>
  /** Labels passed by the caller, bounded. */
  labels: Record<string, AttributeValue>
}

export interface CaptureOptions {
  handled: boolean
  appRoot: string
  maxMessageLength?: number
  maxFrames?: number
  maxCauseDepth?: number
  /** At most this many AggregateError members (default 10). */
  maxAggregateErrors?: number
  labels?: Record<string, unknown>
  /**
   * For values that are not Errors a stack is captured here; frames above this function (the
   * agent's own) are left out. Defaults to toErrorEvent itself.
   */
  syntheticStackFrom?: (...args: any[]) => any
}

const DEFAULT_MAX_MESSAGE = 2048
const DEFAULT_MAX_CAUSE_DEPTH = 5
const DEFAULT_MAX_AGGREGATE = 10
const MAX_ATTRIBUTES = 20
const MAX_ATTRIBUTE_LENGTH = 1024
const MAX_LABELS = 64
const MAX_NAME_LENGTH = 128
const MAX_PREVIEW = 256
/**
 * Error properties that are not attributes: the event itself, or properties that echo the app's
 * data (pg's `detail` "Key (email)=(…) already exists", `where`/`internalQuery` SQL text, request
 * bodies). Names matching the sensitive-name patterns (password, token, key, …) are left out too.
 */
const NOT_ATTRIBUTES = new Set([
  'name', 'message', 'stack', 'cause', 'errors', 'constructor', 'toString',
  'detail', 'hint', 'where', 'internalQuery', 'query', 'sql', 'text', 'values', 'parameters', 'params',
  'body', 'data', 'input', 'value', 'config', 'request', 'response', 'headers', 'url', 'href'
])

/** Reads a property; any throw (getter, Proxy trap) yields undefined. */
function get (value: unknown, key: PropertyKey): unknown {
  try {
    return (value as any)[key]
  } catch {
    return undefined
  }
}

function truncate (s: string, max: number): string {
  if (s.length <= max) return s
  let end = max
  const c = s.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end--
  return s.slice(0, end)
}

/** String() that cannot throw and does not build a huge string from a huge input. */
function safeString (value: unknown, max: number): string {
  try {
    switch (typeof value) {
      case 'string': return truncate(value, max)
      case 'number': case 'boolean': case 'undefined': return String(value)
      case 'bigint': return value.toString() + 'n'
      case 'symbol': return truncate(value.toString(), max)
      case 'function': return '[function ' + truncate(safeString(get(value, 'name'), MAX_NAME_LENGTH), MAX_NAME_LENGTH) + ']'
      default: return value === null ? 'null' : preview(value as object, max)
    }
  } catch {
    return ''
  }
}

/** A short JSON-like preview of an object: one level deep, bounded, safe with cycles and hostile getters. */
function preview (value: object, max: number): string {
  let keys: string[]
  try {
    if (Array.isArray(value)) return `[array(${value.length})]`
    keys = Object.keys(value)
  } catch {
    return '[object]'
  }
  let out = '{'
  for (let k = 0; k < keys.length && out.length < max; k++) {
    const v = get(value, keys[k])
    const t = typeof v
    const shown = t === 'string'
      ? JSON.stringify(truncate(v as string, 64))
      : (t === 'object' && v !== null) ? (Array.isArray(v) ? '[array]' : '[object]') : safeString(v, 64)
    out += (k === 0 ? ' ' : ', ') + JSON.stringify(truncate(keys[k], 64)) + ': ' + shown
  }
  out += keys.length === 0 ? '}' : ' }'
  return truncate(out, max)
}

function isError (value: unknown): value is Error {
  try {
    if (value instanceof Error) return true
    // Errors from another realm (vm, worker) fail instanceof; ask the engine instead.
    return Object.prototype.toString.call(value) === '[object Error]'
  } catch {
    return false
  }
}

function constructorName (value: object): string {
  try {
    const proto = Object.getPrototypeOf(value)
    const ctor = proto === null ? undefined : get(proto, 'constructor')
    const name = typeof ctor === 'function' ? get(ctor, 'name') : undefined
    return typeof name === 'string' ? name : ''
  } catch {
    return ''
  }
}

/** The exception type: a meaningful `name`, else the constructor's name, else `Error`. */
function typeOf (value: object): string {
  const name = get(value, 'name')
  const ctor = constructorName(value)
  let type = typeof name === 'string' && name !== '' ? name : ''
  // class MyError extends Error {} keeps name 'Error'; its constructor knows better.
  if ((type === '' || type === 'Error') && ctor !== '' && ctor !== 'Object' && ctor !== 'Function') type = ctor
  return truncate(type === '' ? 'Error' : type, MAX_NAME_LENGTH)
}

interface Described { type: string, message: string, stack: string | null, fullMessage: string }

function describe (value: unknown, maxMessage: number): Described {
  if (isError(value)) {
    const message = get(value, 'message')
    const stack = get(value, 'stack')
    return {
      type: typeOf(value),
      message: typeof message === 'string' ? truncate(message, maxMessage) : message === undefined ? '' : safeString(message, maxMessage),
      stack: typeof stack === 'string' ? stack : null,
      fullMessage: typeof message === 'string' ? message : ''
    }
  }
  if (typeof value === 'string') return { type: 'Error', message: truncate(value, maxMessage), stack: null, fullMessage: '' }
  if (value !== null && typeof value === 'object') {
    // An error-like object ({ message, name, stack }) from a library that throws plain objects.
    const message = get(value, 'message')
    const stack = get(value, 'stack')
    const hasMessage = typeof message === 'string'
    return {
      type: typeOf(value),
      message: hasMessage ? truncate(message, maxMessage) : 'Non-error object thrown: ' + safeString(value, Math.min(maxMessage, MAX_PREVIEW)),
      stack: typeof stack === 'string' && hasMessage ? stack : null,
      fullMessage: hasMessage ? message : ''
    }
  }
  return { type: 'Error', message: truncate(`Non-error value thrown (${typeof value}): ${safeString(value, MAX_PREVIEW)}`, maxMessage), stack: null, fullMessage: '' }
}

/** Where the `Type: message` header of a V8 stack ends, so frame-like lines inside a message are not read as frames. */
function headerLength (stack: string, d: Described): number {
  const full = d.fullMessage
  if (full === '') return 0
  // Look for the (short) truncated message near the start, then confirm the whole one follows.
  const at = stack.indexOf(d.message)
  // It must sit on the first line (the header), or it is not this message's header.
  if (at === -1 || at > MAX_NAME_LENGTH + 4 || stack.lastIndexOf('\n', at) !== -1) return 0
  return full.length === d.message.length || stack.startsWith(full, at) ? at + full.length : 0
}

function captureSyntheticStack (from: (...args: any[]) => any, maxFrames: number): string | null {
  const holder: { stack?: unknown } = {}
  const limit = Error.stackTraceLimit
  try {
    Error.stackTraceLimit = maxFrames
    Error.captureStackTrace(holder, from)
    let stack = holder.stack
    if (typeof stack !== 'string') {
      // The app's Error.prepareStackTrace returned something else; format with V8's default for this one read.
      const prepare = Error.prepareStackTrace
      try {
        ;(Error as any).prepareStackTrace = undefined
        Error.captureStackTrace(holder, from)
        stack = holder.stack
      } finally {
        Error.prepareStackTrace = prepare
      }
    }
    return typeof stack === 'string' ? stack : null
  } catch {
    return null
  } finally {
    Error.stackTraceLimit = limit
  }
}

function primitive (v: unknown): AttributeValue | undefined {
  const t = typeof v
  if (t === 'string') return truncate(v as string, MAX_ATTRIBUTE_LENGTH)
  if (t === 'number' || t === 'boolean') return v as number | boolean
  if (t === 'bigint') return (v as bigint).toString()
  return undefined
}

function ownAttributes (value: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {}
  if (value === null || typeof value !== 'object') return out
  let keys: string[]
  try {
    keys = Object.keys(value)
  } catch {
    return out
  }
  let count = 0
  for (let k = 0; k < keys.length && count < MAX_ATTRIBUTES; k++) {
    const key = keys[k]
    if (NOT_ATTRIBUTES.has(key) || key.length > MAX_NAME_LENGTH || isSensitiveName(key)) continue
    const v = primitive(get(value, key))
    if (v === undefined) continue
    out[key] = v
    count++
  }
  return out
}

function boundedLabels (labels: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {}
  if (labels === null || typeof labels !== 'object') return out
  let keys: string[]
  try {
    keys = Object.keys(labels)
  } catch {
    return out
  }
  let count = 0
  for (let k = 0; k < keys.length && count < MAX_LABELS; k++) {
    const key = truncate(keys[k], MAX_NAME_LENGTH)
    const v = primitive(get(labels, keys[k]))
    if (v === undefined) continue
    out[key] = v
    count++
  }
  return out
}

/** `Type: message` followed by the frames' original lines (or reformatted ones when a line is missing). */
function formatSection (type: string, message: string, frames: readonly StackFrame[]): string {
  let out = message === '' ? type : `${type}: ${message}`
  for (const f of frames) out += '\n    ' + (f.raw ?? formatFrame(f))
  return out
}

interface Collected { causes: ErrorCause[], sections: string[] }

function collectRelated (root: unknown, opts: CaptureOptions, maxMessage: number, maxFrames: number): Collected {
  const causes: ErrorCause[] = []
  const sections: string[] = []
  const maxDepth = opts.maxCauseDepth ?? DEFAULT_MAX_CAUSE_DEPTH
  const seen = new Set<unknown>([root])
  const one = (value: unknown, relation: 'cause' | 'aggregate', depth: number, index?: number): void => {
    const d = describe(value, maxMessage)
    const frames = parseStack(d.stack, { appRoot: opts.appRoot, maxFrames, skip: d.stack === null ? 0 : headerLength(d.stack, d) })
    const cause: ErrorCause = { type: d.type, message: d.message, frames, relation, depth }
    if (index !== undefined) cause.index = index
    causes.push(cause)
    const title = relation === 'cause' ? 'Caused by: ' : `Aggregated error [${index ?? 0}]: `
    sections.push(title + formatSection(d.type, d.message, frames))
  }
  // The cause chain, nearest first, stopping at cycles.
  let current: unknown = root
  for (let depth = 1; depth <= maxDepth; depth++) {
    const cause = get(current, 'cause')
    if (cause === undefined || seen.has(cause)) break
    seen.add(cause)
    one(cause, 'cause', depth)
    current = cause
  }
  // AggregateError members (own `errors` array), capped.
  const errors = get(root, 'errors')
  let isArray = false
  try {
    isArray = Array.isArray(errors)
  } catch {}
  if (isArray && isError(root)) {
    const list = errors as unknown[]
    const max = opts.maxAggregateErrors ?? DEFAULT_MAX_AGGREGATE
    let len = 0
    try {
      len = list.length
    } catch {}
    for (let k = 0; k < len && k < max; k++) {
      const member = get(list, k)
      if (seen.has(member)) continue
      seen.add(member)
      one(member, 'aggregate', 1, k)
    }
    if (len > max) sections.push(`… ${len - max} more aggregated errors`)
  }
  return { causes, sections }
}

/**
 * Turns any thrown value into an ErrorEvent: type, message (≤ 2 KiB), parsed frames (≤ 50), the
 * original stack text with cause sections, grouping key and culprit, primitive own properties as
 * attributes. Values that are not Errors get a stack captured at the call site. Never throws.
 */
export function toErrorEvent (value: unknown, opts: CaptureOptions): ErrorEvent {
  const time = performance.timeOrigin + performance.now()
  const handled = opts?.handled === true
  try {
    const maxMessage = opts.maxMessageLength ?? DEFAULT_MAX_MESSAGE
    const maxFrames = opts.maxFrames ?? DEFAULT_MAX_FRAMES
    const d = describe(value, maxMessage)
    let stack = d.stack
    if (stack === null) stack = captureSyntheticStack(opts.syntheticStackFrom ?? toErrorEvent, maxFrames)
    const skip = d.stack === null ? 0 : headerLength(d.stack, d)
    let frames = parseStack(stack, { appRoot: opts.appRoot, maxFrames, skip })
    if (d.stack === null && frames.length === 0 && opts.syntheticStackFrom !== undefined) {
      // syntheticStackFrom was not on the stack (V8 then records nothing): fall back to our own frame.
      stack = captureSyntheticStack(toErrorEvent, maxFrames)
      frames = parseStack(stack, { appRoot: opts.appRoot, maxFrames })
    }
    const related = collectRelated(value, opts, maxMessage, maxFrames)
    let stacktrace = formatSection(d.type, d.message, frames)
    for (const section of related.sections) stacktrace += '\n' + section
    return {
      type: d.type,
      message: d.message,
      stacktrace,
      frames,
      groupingKey: groupingKey(d.type, frames, d.message),
      culprit: culprit(frames),
      handled,
      causes: related.causes,
      time,
      attributes: ownAttributes(value),
      labels: boundedLabels(opts.labels)
    }
  } catch {
    // Last resort: nothing about the value could be read safely.
    return {
      type: 'Error',
      message: 'unreadable error value',
      stacktrace: 'Error: unreadable error value',
      frames: [],
      groupingKey: groupingKey('Error', [], 'unreadable error value'),
      culprit: null,
      handled,
      causes: [],
      time,
      attributes: {},
      labels: {}
    }
  }
}
