// A real OTLP/HTTP JSON receiver for tests: listens on 127.0.0.1:0, records every request, answers as told.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { gunzipSync } from 'node:zlib'
import type { AddressInfo } from 'node:net'

export type Attributes = Record<string, unknown>

export interface ReceivedRequest {
  path: string
  method: string
  headers: IncomingMessage['headers']
  /** Bytes on the wire (before gunzip). */
  size: number
  /** Parsed JSON body (undefined when it did not parse). */
  body: any
  time: number
}

export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId: string | undefined
  traceState: string | undefined
  name: string
  kind: number
  start: bigint
  end: bigint
  /** Duration in milliseconds. */
  duration: number
  attributes: Attributes
  events: Array<{ name: string, attributes: Attributes, timeUnixNano: string }>
  status: { code: number, message?: string }
  resource: Attributes
  scope: { name: string, version: string }
  raw: any
}

export interface ReceivedLog {
  traceId: string | undefined
  spanId: string | undefined
  severityNumber: number
  severityText: string
  body: unknown
  attributes: Attributes
  resource: Attributes
  time: bigint
  raw: any
}

/** Decides the answer to one export request; default 200 `{}`. Return null to never answer. */
export type Responder = (req: ReceivedRequest, res: ServerResponse) => { status: number, headers?: Record<string, string>, body?: string } | null | undefined

export function decodeValue (value: any): unknown {
  if (value === null || typeof value !== 'object') return undefined
  if ('stringValue' in value) return value.stringValue
  if ('boolValue' in value) return value.boolValue
  if ('intValue' in value) return Number(value.intValue)
  if ('doubleValue' in value) return value.doubleValue
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map(decodeValue)
  if ('kvlistValue' in value) return decodeAttributes(value.kvlistValue.values ?? [])
  return undefined
}

export function decodeAttributes (list: any[] | undefined): Attributes {
  const out: Attributes = {}
  for (const kv of list ?? []) out[kv.key] = decodeValue(kv.value)
  return out
}

export class Receiver {
  readonly requests: ReceivedRequest[] = []
  readonly #server: Server
  #responder: Responder | undefined
  #waiters = new Set<() => void>()
  #hanging = new Set<ServerResponse>()
  url = ''

  constructor (responder?: Responder) {
    this.#responder = responder
    this.#server = createServer((req, res) => this.#onRequest(req, res))
    this.#server.keepAliveTimeout = 5000
  }

  async listen (): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  /** Change how the next requests are answered. */
  respond (responder: Responder | undefined): void {
    this.#responder = responder
  }

  #onRequest (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      let body: any
      try {
        const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8')
        body = JSON.parse(text)
      } catch {}
      const received: ReceivedRequest = { path: req.url ?? '', method: req.method ?? '', headers: req.headers, size: raw.length, body, time: Date.now() }
      const answer = this.#responder === undefined ? { status: 200, body: '{}' } : this.#responder(received, res)
      if (answer === null) {
        this.#hanging.add(res)
      } else if (answer !== undefined) {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
        res.end(answer.body ?? '{}')
      }
      // Recorded after answering: a test that waits for data also sees the agent's view settle.
      this.requests.push(received)
      for (const w of this.#waiters) w()
    })
  }

  spans (): ReceivedSpan[] {
    const out: ReceivedSpan[] = []
    for (const r of this.requests) {
      if (!r.path.endsWith('/v1/traces') || r.body === undefined) continue
      for (const rs of r.body.resourceSpans ?? []) {
        const resource = decodeAttributes(rs.resource?.attributes)
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            const start = BigInt(s.startTimeUnixNano)
            const end = BigInt(s.endTimeUnixNano)
            out.push({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId === '' ? undefined : s.parentSpanId,
              traceState: s.traceState,
              name: s.name,
              kind: s.kind,
              start,
              end,
              duration: Number(end - start) / 1e6,
              attributes: decodeAttributes(s.attributes),
              events: (s.events ?? []).map((e: any) => ({ name: e.name, timeUnixNano: e.timeUnixNano, attributes: decodeAttributes(e.attributes) })),
              status: s.status ?? { code: 0 },
              resource,
              scope: ss.scope,
              raw: s
            })
          }
        }
      }
    }
    return out
  }

  logs (): ReceivedLog[] {
    const out: ReceivedLog[] = []
    for (const r of this.requests) {
      if (!r.path.endsWith('/v1/logs') || r.body === undefined) continue
      for (const rl of r.body.resourceLogs ?? []) {
        const resource = decodeAttributes(rl.resource?.attributes)
        for (const sl of rl.scopeLogs ?? []) {
          for (const l of sl.logRecords ?? []) {
            out.push({
              traceId: l.traceId === '' ? undefined : l.traceId,
              spanId: l.spanId === '' ? undefined : l.spanId,
              severityNumber: l.severityNumber,
              severityText: l.severityText,
              body: decodeValue(l.body),
              attributes: decodeAttributes(l.attributes),
              resource,
              time: BigInt(l.timeUnixNano),
              raw: l
            })
          }
        }
      }
    }
    return out
  }

  /** Resolve once check() returns a truthy value (re-checked on every request), reject after timeoutMs. */
  waitFor<T> (check: () => T | undefined | null | false, timeoutMs = 10_000, what = 'data'): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const value = check()
        if (value !== undefined && value !== null && value !== false) {
          cleanup()
          resolve(value)
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`receiver: timed out after ${timeoutMs} ms waiting for ${what}; got ${this.requests.length} requests, ${this.spans().length} spans, ${this.logs().length} logs`))
      }, timeoutMs)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(waiter)
      }
      const waiter = (): void => { attempt() }
      this.#waiters.add(waiter)
      attempt()
    })
  }

  /** Wait until at least `count` spans matching filter arrived; resolves with all matching spans. */
  waitForSpans (count: number, filter: (s: ReceivedSpan) => boolean = () => true, timeoutMs?: number): Promise<ReceivedSpan[]> {
    return this.waitFor(() => {
      const spans = this.spans().filter(filter)
      return spans.length >= count ? spans : undefined
    }, timeoutMs, `${count} spans`)
  }

  waitForLogs (count: number, filter: (l: ReceivedLog) => boolean = () => true, timeoutMs?: number): Promise<ReceivedLog[]> {
    return this.waitFor(() => {
      const logs = this.logs().filter(filter)
      return logs.length >= count ? logs : undefined
    }, timeoutMs, `${count} logs`)
  }

  async close (): Promise<void> {
    for (const res of this.#hanging) res.destroy()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** Start a receiver; close it in t.teardown. */
export async function startReceiver (responder?: Responder): Promise<Receiver> {
  return new Receiver(responder).listen()
}
