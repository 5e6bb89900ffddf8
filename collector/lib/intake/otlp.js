// @ts-check
// Strict validation of OTLP/HTTP JSON bodies (traces, logs, metrics) into normalized records.
// Knows the OTLP JSON mapping only; no I/O, no storage. Each invalid item is rejected on its own;
// the first bad field path is reported, as OTLP partial success expects.
'use strict'

const MAX_ANY_VALUE_DEPTH = 8
const MAX_ATTRIBUTES = 1024
const HEX32 = /^[0-9a-fA-F]{32}$/
const HEX16 = /^[0-9a-fA-F]{16}$/
const ZERO32 = '0'.repeat(32)
const ZERO16 = '0'.repeat(16)
const UINT64 = /^\d{1,20}$/
const INT64 = /^-?\d{1,19}$/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

class Invalid extends Error {
  /** @param {string} path @param {string} message */
  constructor (path, message) {
    super(`${path}: ${message}`)
    this.path = path
  }
}

/** @param {unknown} v @returns {v is Record<string, any>} */
function isObject (v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** @param {unknown} v @param {string} path @returns {any[]} */
function optionalArray (v, path) {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw new Invalid(path, 'expected an array')
  return v
}

/** @param {unknown} v @param {string} path @returns {string} */
function optionalString (v, path) {
  if (v === undefined || v === null) return ''
  if (typeof v !== 'string') throw new Invalid(path, 'expected a string')
  return v
}

/**
 * An OTLP fixed64/uint64 time in nanoseconds, as a decimal string or a JSON integer.
 * Returned in microseconds (a safe integer until the year 2255).
 * @param {unknown} v @param {string} path @param {boolean} required @returns {number}
 */
function timeUs (v, path, required) {
  if (v === undefined || v === null) {
    if (required) throw new Invalid(path, 'required')
    return 0
  }
  let ns
  if (typeof v === 'string') {
    if (!UINT64.test(v)) throw new Invalid(path, 'expected an unsigned integer (nanoseconds) as a decimal string')
    ns = BigInt(v)
  } else if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw new Invalid(path, 'expected an unsigned integer (nanoseconds)')
    ns = BigInt(v)
  } else {
    throw new Invalid(path, 'expected an unsigned integer (nanoseconds) as a string or number')
  }
  if (ns > 18446744073709551615n) throw new Invalid(path, 'out of range for uint64')
  return Number(ns / 1000n)
}

/** @param {unknown} v @param {string} path @param {number} min @param {number} max @param {number} dflt */
function intEnum (v, path, min, max, dflt) {
  if (v === undefined || v === null) return dflt
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Invalid(path, 'expected an integer enum value')
  if (v < min || v > max) throw new Invalid(path, `expected an integer from ${min} to ${max}`)
  return v
}

/** @param {unknown} v @param {string} path @param {boolean} required */
function traceId (v, path, required) {
  if ((v === undefined || v === null || v === '') && !required) return ''
  if (typeof v !== 'string' || !HEX32.test(v)) throw new Invalid(path, 'expected 32 hex characters')
  const id = v.toLowerCase()
  if (id === ZERO32) throw new Invalid(path, 'must not be all zeros')
  return id
}

/** @param {unknown} v @param {string} path @param {boolean} required */
function spanId (v, path, required) {
  if ((v === undefined || v === null || v === '') && !required) return ''
  if (typeof v !== 'string' || !HEX16.test(v)) throw new Invalid(path, 'expected 16 hex characters')
  const id = v.toLowerCase()
  if (id === ZERO16) throw new Invalid(path, 'must not be all zeros')
  return id
}

const VALUE_FIELDS = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue']

/**
 * An OTLP AnyValue as a plain JS value.
 * @param {unknown} v @param {string} path @param {number} depth @returns {any}
 */
function anyValue (v, path, depth) {
  if (v === undefined || v === null) return null
  if (!isObject(v)) throw new Invalid(path, 'expected an AnyValue object')
  if (depth > MAX_ANY_VALUE_DEPTH) throw new Invalid(path, `nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`)
  let found = null
  for (const f of VALUE_FIELDS) {
    if (v[f] !== undefined && v[f] !== null) {
      if (found) throw new Invalid(path, `has both ${found} and ${f}`)
      found = f
    }
  }
  if (!found) return null
  const x = v[found]
  const p = `${path}.${found}`
  switch (found) {
    case 'stringValue':
      if (typeof x !== 'string') throw new Invalid(p, 'expected a string')
      return x
    case 'boolValue':
      if (typeof x !== 'boolean') throw new Invalid(p, 'expected a boolean')
      return x
    case 'intValue': {
      if (typeof x === 'number') {
        if (!Number.isInteger(x)) throw new Invalid(p, 'expected an integer')
        return x
      }
      if (typeof x !== 'string' || !INT64.test(x)) throw new Invalid(p, 'expected an int64 as a decimal string or integer')
      const n = BigInt(x)
      if (n > 9223372036854775807n || n < -9223372036854775808n) throw new Invalid(p, 'out of range for int64')
      return Number.isSafeInteger(Number(x)) ? Number(x) : x
    }
    case 'doubleValue':
      if (typeof x === 'number') return x
      if (x === 'NaN' || x === 'Infinity' || x === '-Infinity') return x
      throw new Invalid(p, 'expected a number')
    case 'bytesValue':
      if (typeof x !== 'string' || x.length % 4 !== 0 || !BASE64.test(x)) throw new Invalid(p, 'expected base64')
      return x
    case 'arrayValue': {
      if (!isObject(x)) throw new Invalid(p, 'expected an object with values')
      const values = optionalArray(x.values, `${p}.values`)
      return values.map((e, i) => anyValue(e, `${p}.values[${i}]`, depth + 1))
    }
    default: { // kvlistValue
      if (!isObject(x)) throw new Invalid(p, 'expected an object with values')
      return keyValues(x.values, `${p}.values`, depth + 1)
    }
  }
}

/**
 * OTLP KeyValue[] as a plain object (later duplicates win).
 * @param {unknown} v @param {string} path @param {number} [depth] @returns {Record<string, any>}
 */
function keyValues (v, path, depth = 0) {
  const list = optionalArray(v, path)
  if (list.length > MAX_ATTRIBUTES) throw new Invalid(path, `more than ${MAX_ATTRIBUTES} attributes`)
  /** @type {Record<string, any>} */
  const out = Object.create(null)
  for (let i = 0; i < list.length; i++) {
    const kv = list[i]
    const p = `${path}[${i}]`
    if (!isObject(kv)) throw new Invalid(p, 'expected a {key, value} object')
    if (typeof kv.key !== 'string' || kv.key === '') throw new Invalid(`${p}.key`, 'expected a non-empty string')
    out[kv.key] = anyValue(kv.value, `${p}.value`, depth + 1)
  }
  return out
}

/**
 * @typedef {{ service: string, version: string, environment: string, instanceId: string, host: string, attributes: Record<string, any> }} Resource
 * @param {unknown} v @param {string} path @returns {Resource}
 */
function resource (v, path) {
  if (v !== undefined && v !== null && !isObject(v)) throw new Invalid(path, 'expected an object')
  const attributes = keyValues(isObject(v) ? v.attributes : undefined, `${path}.attributes`)
  const str = (/** @type {string} */ k) => (attributes[k] === undefined || attributes[k] === null) ? '' : String(attributes[k])
  return {
    service: str('service.name') || 'unknown_service',
    version: str('service.version'),
    environment: str('deployment.environment.name') || str('deployment.environment'),
    instanceId: str('service.instance.id'),
    host: str('host.name'),
    attributes
  }
}

/** @param {unknown} v @param {string} path */
function scope (v, path) {
  if (v === undefined || v === null) return { name: '', version: '' }
  if (!isObject(v)) throw new Invalid(path, 'expected an object')
  return { name: optionalString(v.name, `${path}.name`), version: optionalString(v.version, `${path}.version`) }
}

/**
 * @typedef {{ traceId: string, spanId: string, parentSpanId: string, traceState: string, name: string,
 *   kind: number, startUs: number, endUs: number, attributes: Record<string, any>,
 *   events: { name: string, timeUs: number, attributes: Record<string, any> }[],
 *   links: { traceId: string, spanId: string }[], statusCode: number, statusMessage: string, scope: string }} Span
 * @param {unknown} s @param {string} path @param {string} scopeName @returns {Span}
 */
function span (s, path, scopeName) {
  if (!isObject(s)) throw new Invalid(path, 'expected a span object')
  const out = {
    traceId: traceId(s.traceId, `${path}.traceId`, true),
    spanId: spanId(s.spanId, `${path}.spanId`, true),
    parentSpanId: spanId(s.parentSpanId, `${path}.parentSpanId`, false),
    traceState: optionalString(s.traceState, `${path}.traceState`),
    name: '',
    kind: intEnum(s.kind, `${path}.kind`, 0, 5, 0),
    startUs: timeUs(s.startTimeUnixNano, `${path}.startTimeUnixNano`, true),
    endUs: timeUs(s.endTimeUnixNano, `${path}.endTimeUnixNano`, true),
    attributes: keyValues(s.attributes, `${path}.attributes`),
    events: optionalArray(s.events, `${path}.events`).map((e, i) => {
      const p = `${path}.events[${i}]`
      if (!isObject(e)) throw new Invalid(p, 'expected an event object')
      return {
        name: optionalString(e.name, `${p}.name`),
        timeUs: timeUs(e.timeUnixNano, `${p}.timeUnixNano`, false),
        attributes: keyValues(e.attributes, `${p}.attributes`)
      }
    }),
    links: optionalArray(s.links, `${path}.links`).map((l, i) => {
      const p = `${path}.links[${i}]`
      if (!isObject(l)) throw new Invalid(p, 'expected a link object')
      return { traceId: traceId(l.traceId, `${p}.traceId`, true), spanId: spanId(l.spanId, `${p}.spanId`, true) }
    }),
    statusCode: 0,
    statusMessage: '',
    scope: scopeName
  }
  if (typeof s.name !== 'string') throw new Invalid(`${path}.name`, 'expected a string')
  out.name = s.name
  if (out.endUs < out.startUs) throw new Invalid(`${path}.endTimeUnixNano`, 'is before startTimeUnixNano')
  if (s.status !== undefined && s.status !== null) {
    if (!isObject(s.status)) throw new Invalid(`${path}.status`, 'expected an object')
    out.statusCode = intEnum(s.status.code, `${path}.status.code`, 0, 2, 0)
    out.statusMessage = optionalString(s.status.message, `${path}.status.message`)
  }
  return out
}

/**
 * @typedef {{ timeUs: number, observedUs: number, severityNumber: number, severityText: string, body: any,
 *   attributes: Record<string, any>, traceId: string, spanId: string, scope: string }} LogRecord
 * @param {unknown} r @param {string} path @param {string} scopeName @returns {LogRecord}
 */
function logRecord (r, path, scopeName) {
  if (!isObject(r)) throw new Invalid(path, 'expected a log record object')
  const out = {
    timeUs: timeUs(r.timeUnixNano, `${path}.timeUnixNano`, false),
    observedUs: timeUs(r.observedTimeUnixNano, `${path}.observedTimeUnixNano`, false),
    severityNumber: intEnum(r.severityNumber, `${path}.severityNumber`, 0, 24, 0),
    severityText: optionalString(r.severityText, `${path}.severityText`),
    body: anyValue(r.body, `${path}.body`, 0),
    attributes: keyValues(r.attributes, `${path}.attributes`),
    traceId: traceId(r.traceId, `${path}.traceId`, false),
    spanId: spanId(r.spanId, `${path}.spanId`, false),
    scope: scopeName
  }
  if (!out.timeUs && !out.observedUs) throw new Invalid(`${path}.timeUnixNano`, 'required (or observedTimeUnixNano)')
  return out
}

/**
 * Walks resource → scope → items, validating each item on its own.
 * @template T
 * @param {unknown} body @param {string} topKey @param {string} scopeKey @param {string} itemKey
 * @param {(item: unknown, path: string, scopeName: string) => T} validateItem
 * @returns {{ batches: { resource: Resource, items: T[] }[], accepted: number, rejected: number, firstError: string }}
 */
function walk (body, topKey, scopeKey, itemKey, validateItem) {
  if (!isObject(body)) throw new Invalid('(root)', 'expected a JSON object')
  const top = optionalArray(body[topKey], topKey)
  /** @type {{ resource: Resource, items: T[] }[]} */
  const batches = []
  let accepted = 0
  let rejected = 0
  let firstError = ''
  const fail = (/** @type {number} */ n, /** @type {unknown} */ err) => {
    rejected += n
    if (!(err instanceof Invalid)) throw err
    if (!firstError) firstError = err.message
  }
  const countItems = (/** @type {unknown} */ rs) => {
    let n = 0
    if (!isObject(rs) || !Array.isArray(rs[scopeKey])) return 1
    for (const ss of rs[scopeKey]) n += isObject(ss) && Array.isArray(ss[itemKey]) ? ss[itemKey].length : 1
    return Math.max(n, 1)
  }
  for (let i = 0; i < top.length; i++) {
    const rs = top[i]
    const rp = `${topKey}[${i}]`
    let res
    let scopes
    try {
      if (!isObject(rs)) throw new Invalid(rp, 'expected an object')
      res = resource(rs.resource, `${rp}.resource`)
      scopes = optionalArray(rs[scopeKey], `${rp}.${scopeKey}`)
    } catch (err) {
      fail(countItems(rs), err)
      continue
    }
    /** @type {T[]} */
    const items = []
    for (let j = 0; j < scopes.length; j++) {
      const ss = scopes[j]
      const sp = `${rp}.${scopeKey}[${j}]`
      let list
      let scopeName
      try {
        if (!isObject(ss)) throw new Invalid(sp, 'expected an object')
        scopeName = scope(ss.scope, `${sp}.scope`).name
        list = optionalArray(ss[itemKey], `${sp}.${itemKey}`)
      } catch (err) {
        fail(isObject(ss) && Array.isArray(ss[itemKey]) ? Math.max(ss[itemKey].length, 1) : 1, err)
        continue
      }
      for (let k = 0; k < list.length; k++) {
        try {
          items.push(validateItem(list[k], `${sp}.${itemKey}[${k}]`, scopeName))
          accepted++
        } catch (err) {
          fail(1, err)
        }
      }
    }
    if (items.length) batches.push({ resource: res, items })
  }
  return { batches, accepted, rejected, firstError }
}

/** @param {unknown} body */
function validateTraces (body) {
  return walk(body, 'resourceSpans', 'scopeSpans', 'spans', span)
}

/** @param {unknown} body */
function validateLogs (body) {
  return walk(body, 'resourceLogs', 'scopeLogs', 'logRecords', logRecord)
}

const METRIC_TYPES = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']

/**
 * Metrics are kept minimally: the name and the number of data points of each metric.
 * @param {unknown} m @param {string} path @returns {{ name: string, points: number }}
 */
function metric (m, path) {
  if (!isObject(m)) throw new Invalid(path, 'expected a metric object')
  if (typeof m.name !== 'string' || m.name === '') throw new Invalid(`${path}.name`, 'expected a non-empty string')
  const type = METRIC_TYPES.find((t) => m[t] !== undefined && m[t] !== null)
  if (!type) throw new Invalid(path, `expected one of ${METRIC_TYPES.join(', ')}`)
  const data = m[type]
  if (!isObject(data)) throw new Invalid(`${path}.${type}`, 'expected an object')
  const points = optionalArray(data.dataPoints, `${path}.${type}.dataPoints`)
  points.forEach((p, i) => {
    const pp = `${path}.${type}.dataPoints[${i}]`
    if (!isObject(p)) throw new Invalid(pp, 'expected a data point object')
    timeUs(p.timeUnixNano, `${pp}.timeUnixNano`, false)
    keyValues(p.attributes, `${pp}.attributes`)
  })
  return { name: m.name, points: points.length }
}

/** @param {unknown} body */
function validateMetrics (body) {
  return walk(body, 'resourceMetrics', 'scopeMetrics', 'metrics', metric)
}

/**
 * Rejects JSON nested deeper than `max` before JSON.parse, which would happily
 * build a 16 MiB tower of arrays (hundreds of MB of heap). Skips string contents.
 * @param {Buffer} buf @param {number} max @returns {boolean}
 */
function nestingWithin (buf, max) {
  let depth = 0
  let inString = false
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped byte
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return true
}

module.exports = { validateTraces, validateLogs, validateMetrics, nestingWithin, Invalid }
