import t from 'tap'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { startReceiver } from './helpers/receiver'
import agent from 'apm'

t.test('outgoing http calls and W3C trace context', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'http-client-test', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn' })
  t.teardown(() => agent.shutdown())

  // The downstream service records the headers it was called with.
  const seen: http.IncomingHttpHeaders[] = []
  const downstream = http.createServer((req, res) => {
    seen.push(req.headers)
    res.statusCode = req.url?.startsWith('/missing') ? 404 : 200
    res.end('down')
  })
  await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { downstream.closeAllConnections(); downstream.close() })
  const downPort = (downstream.address() as AddressInfo).port

  const get = (url: string | http.RequestOptions): Promise<number> => new Promise((resolve, reject) => {
    http.get(url as any, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)) }).on('error', reject)
  })

  // The front service calls downstream while handling each request.
  const front = http.createServer((req, res) => {
    const target = `http://user:pw@127.0.0.1:${downPort}${req.url === '/404' ? '/missing' : '/data'}?token=s3cret&page=2`
    get(target).then((status) => res.end(String(status)), (err) => { res.statusCode = 500; res.end(String(err)) })
  })
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { front.closeAllConnections(); front.close() })
  const frontPort = (front.address() as AddressInfo).port

  t.test('a call inside a transaction is a CLIENT span whose id travels in traceparent', async (t) => {
    seen.length = 0
    t.equal(await get(`http://127.0.0.1:${frontPort}/checkout`), 200)
    const spans = await receiver.waitForSpans(3, (s) => s.name !== 'GET /checkout' || s.kind === 2)
    const tx = spans.find((s) => s.name === 'GET /checkout')!
    const client = spans.find((s) => s.kind === 3 && s.traceId === tx.traceId)!
    const downTx = spans.find((s) => s.name === 'GET /data' && s.traceId === tx.traceId)!
    t.ok(tx && client && downTx, 'transaction, client span and downstream transaction arrived')
    t.equal(client.parentSpanId, tx.spanId, 'the client span is a child of the transaction')
    t.equal(client.name, `GET 127.0.0.1:${downPort}`)
    t.match(client.attributes, {
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': downPort,
      'http.response.status_code': 200,
      'apm.span.type': 'external'
    })
    t.notMatch(String(client.attributes['url.full']), /pw|s3cret/, 'no credentials or secret query values in url.full')
    t.match(String(client.attributes['url.full']), new RegExp(`^http://127\\.0\\.0\\.1:${downPort}/data`))
    const traceparent = String(seen[0]!.traceparent)
    t.equal(traceparent, `00-${tx.traceId}-${client.spanId}-01`, 'downstream got the client span as parent')
    t.equal(downTx.parentSpanId, client.spanId, 'the downstream transaction continues the trace')
    t.equal(downTx.attributes['apm.parent.remote'], true)
    t.ok(client.start >= tx.start && client.end <= tx.end, 'the span lies within its transaction')
  })

  t.test('a 4xx answer marks the client span failed', async (t) => {
    await get(`http://127.0.0.1:${frontPort}/404`)
    const [client] = await receiver.waitForSpans(1, (s) => s.kind === 3 && s.attributes['http.response.status_code'] === 404)
    t.equal(client!.status.code, 2)
    t.equal(client!.attributes['error.type'], '404')
  })

  t.test('an incoming traceparent and tracestate are continued', async (t) => {
    seen.length = 0
    const traceId = '0af7651916cd43dd8448eb211c80319c'
    await get({ host: '127.0.0.1', port: frontPort, path: '/continued', headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01`, tracestate: 'vendor=abc' } })
    const [tx] = await receiver.waitForSpans(1, (s) => s.name === 'GET /continued')
    t.equal(tx!.traceId, traceId)
    t.equal(tx!.parentSpanId, 'b7ad6b7169203331')
    t.equal(tx!.traceState, 'vendor=abc')
    t.match(String(seen[0]!.traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`))
    t.equal(seen[0]!.tracestate, 'vendor=abc', 'tracestate is passed on downstream')
  })

  t.test('a malformed traceparent is ignored and a new trace starts', async (t) => {
    for (const bad of ['garbage', '00-00000000000000000000000000000000-b7ad6b7169203331-01', '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01']) {
      await get({ host: '127.0.0.1', port: frontPort, path: '/malformed', headers: { traceparent: bad } })
    }
    const txs = await receiver.waitForSpans(5, (s) => s.name === 'GET /malformed')
    for (const tx of txs) {
      t.equal(tx.parentSpanId, undefined, 'no parent')
      t.not(tx.traceId, '0af7651916cd43dd8448eb211c80319c')
    }
  })

  t.test('calls outside any transaction create no span and carry no traceparent', async (t) => {
    seen.length = 0
    const before = receiver.spans().filter((s) => s.kind === 3).length
    await get(`http://127.0.0.1:${downPort}/untraced`)
    await agent.flush()
    t.equal(seen[0]!.traceparent, undefined)
    const clients = receiver.spans().filter((s) => s.kind === 3)
    t.equal(clients.length, before)
  })

  t.test('http.request with every argument form behaves as without the agent', async (t) => {
    const tx = agent.beginTransaction('forms', 'job')!
    const url = `http://127.0.0.1:${downPort}/form`
    const statuses = await Promise.all([
      get(url),
      get(new URL(url) as any),
      get({ host: '127.0.0.1', port: downPort, path: '/form' }),
      new Promise<number>((resolve, reject) => {
        const req = http.request(url, { method: 'POST', headers: { 'x-a': '1' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)) })
        req.on('error', reject)
        req.end('body')
      })
    ])
    agent.endTransaction()
    t.same(statuses, [200, 200, 200, 200])
    const spans = await receiver.waitForSpans(4, (s) => s.kind === 3 && s.traceId === tx.traceId)
    t.equal(spans.length, 4)
    t.ok(spans.every((s) => s.parentSpanId === tx.id))
  })

  t.test('bad arguments throw the same error as without the agent', async (t) => {
    agent.beginTransaction('bad-args', 'job')
    t.throws(() => http.request({ host: '127.0.0.1', port: downPort, method: 'G E T' } as any), { code: 'ERR_INVALID_HTTP_TOKEN' })
    t.throws(() => http.get('http://[bad'), { code: 'ERR_INVALID_URL' })
    agent.endTransaction()
  })

  t.test('a connection refused fails the span and reaches the app unchanged', async (t) => {
    const closed = http.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const tx = agent.beginTransaction('refused', 'job')!
    await t.rejects(get(`http://127.0.0.1:${port}/`), { code: 'ECONNREFUSED' })
    agent.endTransaction()
    const [span] = await receiver.waitForSpans(1, (s) => s.kind === 3 && s.traceId === tx.traceId)
    t.equal(span!.status.code, 2)
    t.equal(span!.attributes['error.type'], 'ECONNREFUSED')
  })

  t.test('https.request and https.get are wrapped too', async (t) => {
    t.not(https.request.name, '', 'name kept')
    t.equal(https.get.length, (https as any).get.length)
    t.equal(http.get.name, 'get')
    t.equal(http.request.name, 'request')
  })
})
