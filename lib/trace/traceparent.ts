// W3C trace context: parse an incoming traceparent/tracestate, format the outgoing ones.

export interface RemoteParent {
  traceId: string
  spanId: string
  sampled: boolean
  traceState: string | undefined
}

const HEX = /^[0-9a-f]+$/
const ZERO_TRACE = '00000000000000000000000000000000'
const ZERO_SPAN = '0000000000000000'

/**
 * Parse a traceparent header value. Returns null for anything invalid (the request then starts a
 * new trace). Versions other than 00 are accepted when their first four fields have the 00 shape,
 * as the spec asks of forward-compatible parsers.
 */
export function parseTraceparent (value: unknown, traceState?: unknown): RemoteParent | null {
  if (typeof value !== 'string') return null
  const header = value.trim()
  if (header.length < 55) return null
  const version = header.slice(0, 2)
  if (version === 'ff' || !HEX.test(version)) return null
  if (version === '00' && header.length !== 55) return null
  if (header.length > 55 && header[55] !== '-') return null
  if (header[2] !== '-' || header[35] !== '-' || header[52] !== '-') return null
  const traceId = header.slice(3, 35)
  const spanId = header.slice(36, 52)
  const flags = header.slice(53, 55)
  if (!HEX.test(traceId) || !HEX.test(spanId) || !HEX.test(flags)) return null
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null
  return {
    traceId,
    spanId,
    sampled: (parseInt(flags, 16) & 1) === 1,
    traceState: parseTraceState(traceState)
  }
}

// tracestate is passed through unchanged when it is a plausible list: at most 32 members, 512 chars.
function parseTraceState (value: unknown): string | undefined {
  if (Array.isArray(value)) value = value.join(',')
  if (typeof value !== 'string') return undefined
  const trimmed = value.trim()
  if (trimmed === '' || trimmed.length > 512) return undefined
  if (trimmed.split(',').length > 32) return undefined
  return trimmed
}

export function formatTraceparent (traceId: string, spanId: string, sampled: boolean): string {
  return '00-' + traceId + '-' + spanId + (sampled ? '-01' : '-00')
}
