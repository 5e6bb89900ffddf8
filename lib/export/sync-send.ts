// Last-chance delivery when the process is about to die: POST prepared bodies from a worker thread while the
// main thread waits (Atomics.wait) at most timeoutMs. Used only on a fatal exception, when nothing else will run.
import { Worker } from 'node:worker_threads'

export interface SyncRequest {
  path: string
  body: Buffer
}

// The worker uses plain node:http(s): it runs in its own isolate, where no instrumentation is loaded.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads')
const { url, headers, requests, flag, rejectUnauthorized } = workerData
const base = new URL(url)
const mod = base.protocol === 'https:' ? require('node:https') : require('node:http')
const done = (ok) => { Atomics.store(flag, 0, ok ? 1 : 2); Atomics.notify(flag, 0) }
let i = 0
const next = () => {
  if (i >= requests.length) return done(true)
  const { path, body } = requests[i++]
  const req = mod.request({
    protocol: base.protocol, hostname: base.hostname, port: base.port, method: 'POST',
    path: base.pathname.replace(/\\/+$/, '') + path, rejectUnauthorized,
    headers: { ...headers, 'content-length': body.length }
  }, (res) => { res.resume(); res.on('end', next) })
  req.on('error', () => done(false))
  req.end(Buffer.from(body))
}
next()
`

/** Send the requests in order; returns true when all were answered within timeoutMs. Never throws. */
export function sendSync (url: string, headers: Record<string, string>, requests: SyncRequest[], timeoutMs: number, rejectUnauthorized: boolean): boolean {
  if (requests.length === 0) return true
  try {
    const flag = new Int32Array(new SharedArrayBuffer(4))
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Workers inherit -r/--import by default; this one must not start another agent.
      execArgv: [],
      env: {},
      stdout: true,
      stderr: true,
      workerData: { url, headers, requests: requests.map((r) => ({ path: r.path, body: new Uint8Array(r.body) })), flag, rejectUnauthorized }
    })
    worker.unref()
    Atomics.wait(flag, 0, 0, timeoutMs)
    const ok = Atomics.load(flag, 0) === 1
    worker.terminate().catch(() => {})
    return ok
  } catch {
    return false
  }
}
