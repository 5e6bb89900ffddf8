// The traces document as the exporter builds it (lib/export/span-batch.ts): spans appended as they end, the buffer
// grown as needed, the request size limit exact also for multi-byte text, and an exporter that splits requests there.
import t from 'tap'
import { DOCUMENT_TAIL, tracesHead } from '../lib/export/otlp'
import { SpanBatch } from '../lib/export/span-batch'
import { Exporter } from '../lib/export/exporter'
import { Transport } from '../lib/export/transport'
import { Logger } from '../lib/logger'
import { Recorder } from '../lib/recorder'
import { resolveConfig } from '../lib/config'
import { startCollector } from './faults/collector'

const head = Buffer.from(tracesHead('{"attributes":[]}', { name: 'apm', version: '0' }))
const tail = Buffer.from(DOCUMENT_TAIL)

t.test('appended spans make one valid document, whatever their characters', async (t) => {
  // Starts with a buffer too small even for head and tail: it is replaced, then grown as spans come.
  const batch = new SpanBatch(head, tail, Buffer.alloc(4))
  const texts = ['plain', 'é ü ß', '日本語のテキスト', '😀 emoji 🚀', 'x'.repeat(100_000), '"quoted" \\ backslash']
  for (const text of texts) t.ok(batch.append(JSON.stringify({ name: text }), Infinity))
  const doc = batch.finish()
  t.equal(batch.bytes + tail.length, doc.length)
  const parsed = JSON.parse(doc.toString('utf8'))
  t.same(parsed.resourceSpans[0].scopeSpans[0].spans.map((s: { name: string }) => s.name), texts)
  t.equal(batch.count, texts.length)
})

t.test('the size limit is exact: a span that would cross it is refused and nothing is written', async (t) => {
  const span = JSON.stringify({ name: '😀'.repeat(10) }) // 4 bytes per emoji, 2 UTF-16 units
  const spanBytes = Buffer.byteLength(span)
  // Room for exactly two spans and their comma.
  const limit = head.length + spanBytes * 2 + 1 + tail.length
  const batch = new SpanBatch(head, tail, Buffer.allocUnsafe(64 * 1024))
  t.ok(batch.append(span, limit))
  t.ok(batch.append(span, limit))
  const before = batch.bytes
  t.notOk(batch.append(span, limit), 'the third does not fit')
  t.equal(batch.bytes, before, 'and was not written')
  t.equal(batch.count, 2)
  t.equal(batch.finish().length, limit)
  t.equal(JSON.parse(batch.finish().toString()).resourceSpans[0].scopeSpans[0].spans.length, 2)
  t.notOk(new SpanBatch(head, tail, Buffer.alloc(0)).append(span, head.length + tail.length + spanBytes - 1), 'a span larger than a whole request never fits')
})

t.test('the exporter splits spans into requests at maxRequestBytes and drops a span too large for any, counted', async (t) => {
  const collector = await startCollector()
  t.teardown(() => collector.stop())
  const log = new Logger()
  log.setLevel('off')
  const config = resolveConfig({ serviceName: 'split', serverUrl: collector.url }, {}, log)
  const transport = new Transport({ serverUrl: collector.url, headers: {}, requestTimeoutMs: 5000, verifyServerCert: true, userAgent: 'apm-node/test' })
  const exporter = new Exporter({ maxQueueSize: 1000, maxBatchSize: 1000, flushIntervalMs: 60_000, requestTimeoutMs: 5000, maxBackoffMs: 1000, maxRequestBytes: 20_000 }, transport, log, '{"attributes":[]}', { name: 'apm', version: '0' })
  const recorder = new Recorder(config, exporter, log)
  for (let i = 0; i < 30; i++) {
    const tx = recorder.startTransaction(`tx ${i}`, 'job')
    tx.setAttribute('payload', 'ü'.repeat(1000)) // 2,000 bytes of UTF-8 in 1,000 characters
    tx.end()
  }
  const big = recorder.startTransaction('too big', 'job')
  for (let i = 0; i < 10; i++) big.setAttribute(`payload.${i}`, 'x'.repeat(5000))
  big.end()
  await exporter.flush(5000)
  const stats = exporter.stats()
  t.equal(stats.delivered, 30, 'every span that fits a request was delivered')
  t.equal(stats.droppedByReason.too_large, 1, 'the one larger than a whole request was dropped as too_large')
  const traces = collector.exchanges.filter((e) => e.spans > 0)
  t.ok(traces.length >= 3, `${traces.length} requests`)
  for (const e of traces) t.ok(Buffer.byteLength(e.text) <= 20_000, `request of ${Buffer.byteLength(e.text)} bytes ≤ 20,000`)
  t.same(traces.flatMap((e) => JSON.parse(e.text).resourceSpans[0].scopeSpans[0].spans.map((s: { name: string }) => s.name)),
    Array.from({ length: 30 }, (_, i) => `tx ${i}`), 'in order')
  await exporter.close(1000)
})
