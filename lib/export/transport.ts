// HTTP transport for export requests: undici (never the app's patched http), keep-alive, deadlines, bounded reads.
import type { Client } from 'undici'
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

export class Transport {
  readonly #url: URL
  readonly #basePath: string
  readonly #options: TransportOptions
  #client: Client | undefined

  constructor (options: TransportOptions) {
    this.#options = options
    this.#url = new URL(options.serverUrl)
    this.#basePath = this.#url.pathname.replace(/\/+$/, '')
  }

  /** POST a gzipped JSON body to `{serverUrl}{path}`; never rejects. */
  send (path: string, body: Buffer, signal: AbortSignal): Promise<SendResult> {
    // Run outside any app trace so fetch/undici instrumentation never sees the agent's own requests.
    return outsideTrace(() => this.#send(path, body, signal))
  }

  async #send (path: string, body: Buffer, signal: AbortSignal): Promise<SendResult> {
    try {
      const client = this.#getClient()
      const res = await client.request({
        method: 'POST',
        path: this.#basePath + path,
        headers: {
          ...this.#options.headers,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'user-agent': this.#options.userAgent
        },
        body,
        signal
      })
      const text = await readBounded(res.body, MAX_RESPONSE_BYTES)
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode, body: text }
      return { ok: false, status: res.statusCode, body: text, retryAfterMs: parseRetryAfter(res.headers['retry-after']) }
    } catch (err) {
      // A failed or abandoned request leaves no connection behind: undici@7 would otherwise open a fresh socket at
      // once (with nothing to send on it), so a dead collector would see two sockets, one of them idle.
      this.#reset()
      return { ok: false, status: 0, error: err instanceof Error ? err : new Error(String(err)), retryAfterMs: undefined }
    }
  }

  /**
   * Load undici soon after start-up, while the app is typically still starting, rather than at the first export
   * (~65 ms of blocking require on this machine kind, which would land in the middle of serving traffic). Unref'd:
   * a short script that exits at once never pays for it.
   */
  warmUp (): void {
    const immediate = setImmediate(() => {
      try { this.#getClient() } catch {}
    })
    immediate.unref()
  }

  #getClient (): Client {
    if (this.#client !== undefined) return this.#client
    // undici is loaded after start-up (warmUp) or at the first export, never during start(): it costs tens of ms.
    const { Client } = require('undici') as typeof import('undici')
    const timeout = this.#options.requestTimeoutMs
    this.#client = new Client(this.#url.origin, {
      keepAliveTimeout: 4000,
      keepAliveMaxTimeout: 30_000,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connectTimeout: Math.min(timeout, 5000),
      pipelining: 1,
      connect: { rejectUnauthorized: this.#options.verifyServerCert }
    })
    return this.#client
  }

  #reset (): void {
    const client = this.#client
    this.#client = undefined
    if (client !== undefined) client.destroy().catch(() => {})
  }

  /** Close the connection; in-flight requests are aborted. */
  async close (): Promise<void> {
    const client = this.#client
    this.#client = undefined
    if (client !== undefined) await client.destroy().catch(() => {})
  }
}

async function readBounded (body: AsyncIterable<Buffer> & { destroy?: (err?: Error) => unknown }, max: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    if (size + chunk.length > max) {
      chunks.push(chunk.subarray(0, max - size))
      size = max
      break // leaving the loop destroys the body: the rest is never read
    }
    chunks.push(chunk)
    size += chunk.length
  }
  return Buffer.concat(chunks, size).toString('utf8')
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
