// HTTP transport for export requests: node:http(s) ClientRequest built directly (never through the app's patched
// http.request, so the agent's own requests are never traced), one keep-alive connection, deadlines by AbortSignal,
// bounded reads. Not undici: loading it costs ~20 MB of RSS (its WebAssembly HTTP parser, its code) and ~65 ms.
import type { Agent, IncomingMessage } from 'node:http'
import { urlToHttpOptions } from 'node:url'
import { outsideTrace } from '../context'

export interface TransportOptions {
  serverUrl: string
  headers: Record<string, string>
  requestTimeoutMs: number
  verifyServerCert: boolean
  userAgent: string
}

export type SendResult =
  | { ok: true, status: number, body: string }
  | { ok: false, status: number, body: string, retryAfterMs: number | undefined }
  | { ok: false, status: 0, error: Error, retryAfterMs: undefined }

const MAX_RESPONSE_BYTES = 64 * 1024
// An idle connection is closed after this long (sooner when the server announces a shorter Keep-Alive timeout).
const IDLE_SOCKET_MS = 15_000

type HttpModule = typeof import('node:http')

export class Transport {
  readonly #options: TransportOptions
  readonly #secure: boolean
  readonly #hostname: string
  readonly #port: number | undefined
  readonly #basePath: string
  #module: HttpModule | undefined
  #agent: Agent | undefined

  constructor (options: TransportOptions) {
    this.#options = options
    const url = new URL(options.serverUrl)
    const parts = urlToHttpOptions(url)
    this.#secure = url.protocol === 'https:'
    this.#hostname = parts.hostname ?? 'localhost'
    this.#port = url.port === '' ? undefined : Number(url.port)
    this.#basePath = url.pathname.replace(/\/+$/, '')
  }

  /** POST a gzipped JSON body to `{serverUrl}{path}`; never rejects. */
  send (path: string, body: Buffer, signal: AbortSignal): Promise<SendResult> {
    // Outside any app trace: no instrumentation ever sees the agent's own requests as part of a transaction.
    return outsideTrace(() => this.#send(path, body, signal, true))
  }

  #send (path: string, body: Buffer, signal: AbortSignal, mayRetry: boolean): Promise<SendResult> {
    return new Promise((resolve) => {
      let settled = false
      const settle = (result: SendResult | Promise<SendResult>): void => {
        if (settled) return
        settled = true
        resolve(result)
      }
      const fail = (err: unknown): void => settle({ ok: false, status: 0, error: err instanceof Error ? err : new Error(String(err)), retryAfterMs: undefined })
      try {
        const { ClientRequest } = this.#http()
        const req = new ClientRequest({
          protocol: this.#secure ? 'https:' : 'http:',
          hostname: this.#hostname,
          port: this.#port,
          method: 'POST',
          path: this.#basePath + path,
          agent: this.#agent,
          signal,
          headers: {
            ...this.#options.headers,
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'content-length': body.length,
            'user-agent': this.#options.userAgent
          }
        })
        req.on('response', (res: IncomingMessage) => {
          readBounded(res, MAX_RESPONSE_BYTES).then((text) => {
            const status = res.statusCode ?? 0
            if (status >= 200 && status < 300) settle({ ok: true, status, body: text })
            else settle({ ok: false, status, body: text, retryAfterMs: parseRetryAfter(res.headers['retry-after']) })
          }, fail)
        })
        req.on('error', (err: NodeJS.ErrnoException) => {
          // A kept-alive connection the server closed just as it was reused: one immediate retry on a new one.
          if (mayRetry && req.reusedSocket && err.code === 'ECONNRESET' && !signal.aborted) settle(this.#send(path, body, signal, false))
          else fail(err)
        })
        req.end(body)
      } catch (err) {
        fail(err)
      }
    })
  }

  /** Load https (and tls) soon after start-up for an https collector, not in start() nor at the first export. */
  warmUp (): void {
    if (!this.#secure) return
    const immediate = setImmediate(() => {
      try { this.#http() } catch {}
    })
    immediate.unref()
  }

  #http (): HttpModule {
    if (this.#module !== undefined) return this.#module
    const agentOptions = { keepAlive: true, maxSockets: 1, timeout: IDLE_SOCKET_MS }
    if (this.#secure) {
      const https = require('node:https') as typeof import('node:https')
      this.#agent = new https.Agent({ ...agentOptions, rejectUnauthorized: this.#options.verifyServerCert })
    } else {
      this.#agent = new (require('node:http') as HttpModule).Agent(agentOptions)
    }
    // ClientRequest is node:http's for both schemes: https.request is ClientRequest with an https Agent.
    this.#module = require('node:http') as HttpModule
    return this.#module
  }

  /** Close the connection; a request in flight is aborted. */
  async close (): Promise<void> {
    this.#agent?.destroy()
  }
}

/** The response body as text, at most max bytes (the rest is not read: the connection is closed). */
function readBounded (res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    res.on('data', (chunk: Buffer) => {
      if (size >= max) return
      if (size + chunk.length > max) {
        chunks.push(chunk.subarray(0, max - size))
        size = max
        res.destroy()
        resolve(Buffer.concat(chunks, size).toString('utf8'))
        return
      }
      chunks.push(chunk)
      size += chunk.length
    })
    res.on('end', () => resolve(Buffer.concat(chunks, size).toString('utf8')))
    res.on('error', reject)
    // Closed before its end (the connection dropped mid-body): a failed request. After a resolve this changes nothing.
    res.on('close', () => { if (!res.complete) reject(new Error('the response was cut off')) })
  })
}

/** Retry-After in delta-seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter (value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (raw === undefined) return undefined
  const trimmed = raw.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - nowMs)
}
