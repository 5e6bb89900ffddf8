import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Pool, fetch as undiciFetch, request as undiciRequest } from 'undici'
import { startReceiver, type ReceivedSpan } from '../helpers/receiver'
import agent from 'apm'

const CLIENT = 3

interface Seen { url: string, headers: http.IncomingHttpHeaders, body: string }

t.test('fetch and undici requests become CLIENT spans carrying W3C trace context', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'undici-test', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn', maxSpansPerTransaction: 20 })
  t.teardown(() => agent.shutdown())

  // The downstream service records what it was called with.
  const seen: Seen[] = []
  const downstream = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() })
      const status = /^\/status\/(\d+)/.exec(req.url ?? '')
      if (req.url === '/broken') {
        // Headers and part of the body, then the connection drops.
        res.writeHead(200, { 'content-length': '1000' })
        res.write('partial', () => res.destroy())
        return
      }
      if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 5000).unref()
        return
      }
      res.statusCode = status === null ? 200 : Number(status[1])
      res.end('body of ' + req.url)
    })
  })
  await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { downstream.closeAllConnections(); downstream.close() })
  const port = (downstream.address() as AddressInfo).port
  const base = `http://127.0.0.1:${port}`
  const seenAt = (path: string): Seen => seen.find((s) => s.url === path)!
  const clientSpans = (traceId: string, count: number): Promise<ReceivedSpan[]> =>
    receiver.waitForSpans(count, (s) => s.kind === CLIENT && s.traceId === traceId)

  t.test('global fetch inside a transaction is a child CLIENT span whose id travels downstream', async (t) => {
    const tx = agent.beginTransaction('global-fetch', 'job')!
    const res = await fetch(`${base}/users/42?token=s3cret&page=2`)
    t.equal(await res.text(), 'body of /users/42?token=s3cret&page=2', 'the app reads its response unchanged')
    agent.endTransaction()
    const [span] = await clientSpans(tx.traceId, 1)
    t.equal(span!.name, `GET 127.0.0.1:${port}`)
    t.equal(span!.parentSpanId, tx.id, 'child of the transaction')
    t.match(span!.attributes, {
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': port,
      'http.response.status_code': 200,
      'apm.span.type': 'external'
    })
    t.equal(span!.attributes['url.full'], `${base}/users/42?token=REDACTED&page=2`, 'sensitive query values removed')
    t.equal(span!.status.code, 0)
    t.equal(seenAt('/users/42?token=s3cret&page=2').headers.traceparent, `00-${tx.traceId}-${span!.spanId}-01`)
    const [downTx] = await receiver.waitForSpans(1, (s) => s.kind === 2 && s.traceId === tx.traceId)
    t.equal(downTx!.parentSpanId, span!.spanId, 'the downstream transaction continues the client span')
  })

  t.test('the parent is the span current when fetch was called', async (t) => {
    const tx = agent.beginTransaction('nested', 'job')!
    const outer = agent.startSpan('outer', 'app')!
    await (await fetch(`${base}/nested`)).text()
    outer.end()
    agent.endTransaction()
    const [span] = await clientSpans(tx.traceId, 1)
    t.equal(span!.parentSpanId, outer.id)
    t.equal(seenAt('/nested').headers.traceparent, `00-${tx.traceId}-${span!.spanId}-01`)
  })

  t.test('undici.request and undici.fetch from the npm package are traced the same way', async (t) => {
    const tx = agent.beginTransaction('npm-undici', 'job')!
    const { statusCode, body } = await undiciRequest(`${base}/npm-request`, { method: 'PUT', body: 'put-body' })
    t.equal(statusCode, 200)
    t.equal(await body.text(), 'body of /npm-request')
    const res = await undiciFetch(`${base}/npm-fetch`, { method: 'POST', body: 'post-body' })
    t.equal(await res.text(), 'body of /npm-fetch')
    agent.endTransaction()
    const spans = await clientSpans(tx.traceId, 2)
    const put = spans.find((s) => s.attributes['http.request.method'] === 'PUT')!
    const post = spans.find((s) => s.attributes['http.request.method'] === 'POST')!
    t.ok(put && post, 'one span per request')
    t.equal(put.name, `PUT 127.0.0.1:${port}`)
    t.equal(put.attributes['url.full'], `${base}/npm-request`)
    t.equal(post.attributes['url.full'], `${base}/npm-fetch`)
    for (const s of [put, post]) t.equal(s.parentSpanId, tx.id)
    t.equal(seenAt('/npm-request').headers.traceparent, `00-${tx.traceId}-${put.spanId}-01`)
    t.equal(seenAt('/npm-fetch').headers.traceparent, `00-${tx.traceId}-${post.spanId}-01`)
    t.equal(seenAt('/npm-request').body, 'put-body', 'the request body arrives unchanged')
  })

  t.test('url.full never holds credentials or sensitive query values', async (t) => {
    const tx = agent.beginTransaction('redact', 'job')!
    await (await undiciRequest(`http://user:pw@127.0.0.1:${port}/login?password=hunter2&next=%2Fhome`)).body.text()
    agent.endTransaction()
    const [span] = await clientSpans(tx.traceId, 1)
    t.equal(span!.attributes['url.full'], `${base}/login?password=REDACTED&next=%2Fhome`)
  })

  t.test('4xx and 5xx answers mark the span failed and reach the app unchanged', async (t) => {
    const tx = agent.beginTransaction('statuses', 'job')!
    const notFound = await fetch(`${base}/status/404`)
    t.equal(notFound.status, 404)
    await notFound.text()
    const unavailable = await undiciRequest(`${base}/status/503`)
    t.equal(unavailable.statusCode, 503)
    await unavailable.body.text()
    agent.endTransaction()
    const spans = await clientSpans(tx.traceId, 2)
    for (const status of [404, 503]) {
      const span = spans.find((s) => s.attributes['http.response.status_code'] === status)!
      t.equal(span.status.code, 2, `${status} is an error`)
      t.equal(span.attributes['error.type'], String(status))
    }
  })

  t.test('a refused connection marks the span failed and the app sees the same rejection', async (t) => {
    const closed = http.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const deadPort = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const tx = agent.beginTransaction('refused', 'job')!
    const err = await fetch(`http://127.0.0.1:${deadPort}/nowhere`).then(() => null, (e: any) => e)
    t.ok(err instanceof TypeError, 'fetch rejects with its own TypeError')
    t.equal(err?.message, 'fetch failed')
    t.equal(err?.cause?.code, 'ECONNREFUSED')
    await t.rejects(undiciRequest(`http://127.0.0.1:${deadPort}/nowhere`), { code: 'ECONNREFUSED' })
    agent.endTransaction()
    const spans = await clientSpans(tx.traceId, 2)
    for (const span of spans) {
      t.equal(span.name, `GET 127.0.0.1:${deadPort}`)
      t.equal(span.status.code, 2)
      t.equal(span.attributes['error.type'], 'ECONNREFUSED')
      t.equal(span.attributes['http.response.status_code'], undefined, 'no status without a response')
    }
  })

  t.test('an aborted fetch marks the span failed and rejects with the AbortError', async (t) => {
    const tx = agent.beginTransaction('abort', 'job')!
    const controller = new AbortController()
    const pending = fetch(`${base}/slow`, { signal: controller.signal })
    // Abort once the downstream holds the request, so the request is really in flight.
    await new Promise<void>((resolve) => {
      const check = (): void => { seen.some((s) => s.url === '/slow') ? resolve() : setTimeout(check, 10) }
      check()
    })
    controller.abort()
    await t.rejects(pending, { name: 'AbortError' })
    agent.endTransaction()
    const [span] = await clientSpans(tx.traceId, 1)
    t.equal(span!.status.code, 2)
    t.equal(span!.attributes['error.type'], 'AbortError')
  })

  t.test('a connection lost while the body streams marks the span failed, status code kept', async (t) => {
    const tx = agent.beginTransaction('broken', 'job')!
    const res = await fetch(`${base}/broken`)
    t.equal(res.status, 200)
    await t.rejects(res.text(), TypeError, 'reading the body fails as without the agent')
    agent.endTransaction()
    const [span] = await clientSpans(tx.traceId, 1)
    t.equal(span!.attributes['http.response.status_code'], 200)
    t.equal(span!.status.code, 2)
    t.equal(span!.attributes['error.type'], 'UND_ERR_SOCKET', "undici's error code")
  })

  t.test('a fetch with a streamed request body is traced identically', async (t) => {
    const tx = agent.beginTransaction('streamed', 'job')!
    const stream = Readable.toWeb(Readable.from(['chunk-1 ', 'chunk-2 ', 'chunk-3']))
    const res = await fetch(`${base}/upload`, { method: 'POST', body: stream as ReadableStream, duplex: 'half' } as RequestInit)
    t.equal(await res.text(), 'body of /upload')
    agent.endTransaction()
    const [span] = await clientSpans(tx.traceId, 1)
    t.equal(span!.name, `POST 127.0.0.1:${port}`)
    t.equal(span!.parentSpanId, tx.id)
    t.equal(span!.attributes['http.response.status_code'], 200)
    const got = seenAt('/upload')
    t.equal(got.body, 'chunk-1 chunk-2 chunk-3', 'the streamed body arrives whole')
    t.equal(got.headers.traceparent, `00-${tx.traceId}-${span!.spanId}-01`)
  })

  t.test('concurrent transactions never mix their fetch spans', async (t) => {
    const N = 12
    const run = async (i: number): Promise<{ traceId: string, txId: string }> => {
      await null // own async context, so beginTransaction does not leak into the caller
      const tx = agent.beginTransaction(`concurrent-${i}`, 'job')!
      await Promise.all([
        fetch(`${base}/c/${i}/a`).then((r) => r.text()),
        undiciRequest(`${base}/c/${i}/b`).then((r) => r.body.text())
      ])
      agent.endTransaction()
      return { traceId: tx.traceId, txId: tx.id }
    }
    const txs = await Promise.all(Array.from({ length: N }, (_, i) => run(i)))
    for (const [i, tx] of txs.entries()) {
      const spans = await clientSpans(tx.traceId, 2)
      t.equal(spans.length, 2, `transaction ${i} has exactly its two spans`)
      for (const span of spans) {
        t.equal(span.parentSpanId, tx.txId)
        const path = String(span.attributes['url.full']).slice(base.length)
        t.match(path, new RegExp(`^/c/${i}/[ab]$`), 'the span names its own request')
        t.equal(seenAt(path).headers.traceparent, `00-${tx.traceId}-${span.spanId}-01`)
      }
    }
  })

  t.test('requests queued by a connection-limited Pool stay with the transaction that made them', async (t) => {
    // The Pool creates a queued request later, from another request's socket callback: the span must
    // still belong to the caller, not to whichever transaction opened the connection.
    const pool = new Pool(base, { connections: 1 })
    t.teardown(() => pool.close())
    const run = async (i: number): Promise<{ traceId: string, txId: string }> => {
      await null
      const tx = agent.beginTransaction(`pooled-${i}`, 'job')!
      await (await pool.request({ method: 'GET', path: `/pool/${i}` })).body.text()
      agent.endTransaction()
      return { traceId: tx.traceId, txId: tx.id }
    }
    const txs = await Promise.all([0, 1, 2, 3].map(run))
    for (const [i, tx] of txs.entries()) {
      const spans = await clientSpans(tx.traceId, 1)
      t.equal(spans.length, 1, `transaction ${i} has its one span`)
      t.equal(spans[0]!.parentSpanId, tx.txId)
      t.equal(spans[0]!.attributes['url.full'], `${base}/pool/${i}`)
      t.equal(seenAt(`/pool/${i}`).headers.traceparent, `00-${tx.traceId}-${spans[0]!.spanId}-01`)
    }
  })

  t.test('requests outside a transaction create no span and carry no traceparent', async (t) => {
    await (await fetch(`${base}/untraced-fetch`)).text()
    await (await undiciRequest(`${base}/untraced-request`)).body.text()
    await agent.flush()
    t.equal(seenAt('/untraced-fetch').headers.traceparent, undefined)
    t.equal(seenAt('/untraced-request').headers.traceparent, undefined)
    t.notOk(receiver.spans().some((s) => String(s.attributes['url.full']).includes('/untraced')))
  })

  t.test('a traceparent set by the app is kept, not replaced or doubled', async (t) => {
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const tx = agent.beginTransaction('own-header', 'job')!
    await (await fetch(`${base}/own-fetch`, { headers: { TraceParent: own } })).text()
    await (await undiciRequest(`${base}/own-request`, { headers: { traceparent: own } })).body.text()
    agent.endTransaction()
    t.equal(seenAt('/own-fetch').headers.traceparent, own)
    t.equal(seenAt('/own-request').headers.traceparent, own)
    t.equal((await clientSpans(tx.traceId, 2)).length, 2, 'the requests are still traced')
  })

  t.test('tracestate of the transaction is passed on', async (t) => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const tx = agent.beginTransaction('with-state', 'job', { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=abc' })!
    await (await fetch(`${base}/state`)).text()
    agent.endTransaction()
    const [span] = await clientSpans(traceId, 1)
    t.equal(seenAt('/state').headers.traceparent, `00-${traceId}-${span!.spanId}-01`)
    t.equal(seenAt('/state').headers.tracestate, 'vendor=abc')
    t.equal(tx.traceId, traceId)
  })

  t.test('an unsampled transaction records no span but still propagates its context', async (t) => {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4736'
    const tx = agent.beginTransaction('unsampled', 'job', { traceparent: `00-${traceId}-00f067aa0ba902b7-00` })!
    t.equal(tx.sampled, false)
    await (await fetch(`${base}/unsampled`)).text()
    agent.endTransaction()
    await agent.flush()
    t.equal(seenAt('/unsampled').headers.traceparent, `00-${traceId}-${tx.id}-00`, "the transaction's own id, not sampled")
    t.notOk(receiver.spans().some((s) => s.traceId === traceId))
  })

  t.test('beyond the span limit requests are not recorded but still propagate the parent', async (t) => {
    const tx = agent.beginTransaction('over-limit', 'job')!
    for (let i = 0; i < 21; i++) await (await fetch(`${base}/limit/${i}`)).text()
    agent.endTransaction()
    const spans = await clientSpans(tx.traceId, 20)
    await agent.flush()
    t.equal(receiver.spans().filter((s) => s.kind === CLIENT && s.traceId === tx.traceId).length, 20, 'the limit holds')
    t.equal(seenAt('/limit/20').headers.traceparent, `00-${tx.traceId}-${tx.id}-01`, 'the 21st carries the transaction id')
    t.equal(seenAt('/limit/0').headers.traceparent, `00-${tx.traceId}-${spans.find((s) => String(s.attributes['url.full']).endsWith('/limit/0'))!.spanId}-01`)
  })
})
