// A controllable collector for fault tests: HTTP (or raw TCP misbehaviour), on a fixed or free port, that can go
// down and come back, and that records raw request bodies, request times and socket concurrency.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket, type AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'

export interface Exchange {
  path: string
  headers: IncomingMessage['headers']
  /** The decompressed body text (exactly the bytes the agent sent, before JSON parsing). */
  text: string
  spans: number
  logs: number
  /** Date.now() when the whole request body had arrived. */
  time: number
}

/** The answer to one request; null: never answer. */
export type Answer = { status: number, headers?: Record<string, string>, body?: string } | null
export type Responder = (req: Exchange, n: number) => Answer

/** A TCP-level behaviour instead of HTTP: 'silent' (read, never answer), 'trickle' (1 byte/s), 'stall' (headers and part of the body, then nothing), 'reset' (RST on the first bytes). */
export type RawMode = 'silent' | 'trickle' | 'stall' | 'reset'

export interface SocketRecord {
  opened: number
  closed: number | undefined
}

export class Collector {
  readonly exchanges: Exchange[] = []
  readonly sockets: SocketRecord[] = []
  port = 0
  host = '127.0.0.1'
  maxConcurrentSockets = 0
  #open = new Set<Socket>()
  #server: Server | NetServer | undefined
  #responder: Responder = () => ({ status: 200, body: '{}' })
  #raw: RawMode | undefined
  #timers = new Set<NodeJS.Timeout>()
  /** Requests seen at the TCP level in raw modes (count of request lines). */
  rawRequests = 0

  get url (): string {
    return `http://${this.host}:${this.port}`
  }

  respond (responder: Responder): void {
    this.#responder = responder
  }

  /** Total spans / log records received in 2xx-answered requests are not tracked separately: count all. */
  spanCount (): number {
    return this.exchanges.reduce((n, e) => n + e.spans, 0)
  }

  logCount (): number {
    return this.exchanges.reduce((n, e) => n + e.logs, 0)
  }

  /** Everything the agent sent: bodies and headers, as one searchable string. */
  everything (): string {
    return this.exchanges.map((e) => e.path + '\n' + JSON.stringify(e.headers) + '\n' + e.text).join('\n')
  }

  /** Listen (HTTP, or raw TCP with mode) on port (0: a free one; otherwise the port used before). */
  async start (port = this.port, raw?: RawMode, host = this.host): Promise<this> {
    this.host = host
    this.#raw = raw
    const server = raw === undefined
      ? createHttpServer({ keepAliveTimeout: 5000 }, (req, res) => this.#onRequest(req, res))
      : createNetServer((socket) => this.#onRaw(socket))
    server.on('connection', (socket: Socket) => this.#track(socket))
    this.#server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => { server.removeListener('error', reject); resolve() })
    })
    this.port = (server.address() as AddressInfo).port
    return this
  }

  /** Go down: stop listening (connections are refused from now on) and cut every open connection. */
  async stop (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    for (const s of this.#open) s.destroy()
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  #track (socket: Socket): void {
    const record: SocketRecord = { opened: Date.now(), closed: undefined }
    this.sockets.push(record)
    this.#open.add(socket)
    this.maxConcurrentSockets = Math.max(this.maxConcurrentSockets, this.#open.size)
    socket.on('close', () => {
      record.closed = Date.now()
      this.#open.delete(socket)
    })
  }

  #onRequest (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      let text = ''
      try {
        text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8')
      } catch {}
      let spans = 0
      let logs = 0
      try {
        const body = JSON.parse(text)
        for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += (ss.spans ?? []).length
        for (const rl of body.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) logs += (sl.logRecords ?? []).length
      } catch {}
      const exchange: Exchange = { path: req.url ?? '', headers: req.headers, text, spans, logs, time: Date.now() }
      this.exchanges.push(exchange)
      const answer = this.#responder(exchange, this.exchanges.length)
      if (answer === null) return
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
      res.end(answer.body ?? '{}')
    })
  }

  #onRaw (socket: Socket): void {
    socket.on('error', () => {})
    let started = false
    socket.on('data', (chunk) => {
      this.rawRequests += (chunk.toString('latin1').match(/^POST /gm) ?? []).length
      if (started) return
      started = true
      switch (this.#raw) {
        case 'silent':
          break
        case 'reset':
          socket.resetAndDestroy()
          break
        case 'stall':
          socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"partial')
          break
        case 'trickle': {
          const answer = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}'
          let i = 0
          const tick = (): void => {
            if (socket.destroyed || i >= answer.length) return
            socket.write(answer[i++]!)
            const t = setTimeout(tick, 1000)
            this.#timers.add(t)
          }
          tick()
          break
        }
      }
    })
  }
}

export async function startCollector (raw?: RawMode): Promise<Collector> {
  return new Collector().start(0, raw)
}
