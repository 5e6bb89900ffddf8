import t from 'tap'
import { AsyncResource } from 'node:async_hooks'
import { startReceiver, type ReceivedSpan } from '../helpers/receiver'
import { startPostgres } from '../helpers/postgres'
import agent from 'apm'

type Tx = NonNullable<ReturnType<typeof agent.beginTransaction>>

// Each transaction in its own async scope, so beginTransaction (enterWith) never leaks into the test runner or a sibling.
function inTransaction<T> (name: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return new AsyncResource('pg-test').runInAsyncScope(async () => {
    const tx = agent.beginTransaction(name, 'job')!
    try {
      return await fn(tx)
    } finally {
      agent.endTransaction()
    }
  })
}

t.test('pg queries inside a transaction become CLIENT spans', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  const db = await startPostgres()
  t.teardown(() => db.stop())
  agent.start({ serviceName: 'pg-test', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn' })
  t.teardown(() => agent.shutdown())

  // Loaded after start(): require() is where pg gets instrumented.
  const pg = require('pg') as typeof import('pg')
  const Cursor = require('pg-cursor') as typeof import('pg-cursor')
  const QueryStream = require('pg-query-stream') as typeof import('pg-query-stream')
  const config = { host: db.host, port: db.port, user: db.user, database: db.database }

  const client = new pg.Client(config)
  await client.connect()
  t.teardown(() => client.end())
  await client.query('CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, name text, card text)')
  await client.query("INSERT INTO users (name, card) VALUES ('ann', 'x'), ('bob', 'y')")

  // The spans of one transaction (without the transaction itself).
  const spansOf = async (tx: Tx, count: number, filter: (s: ReceivedSpan) => boolean = () => true): Promise<ReceivedSpan[]> => {
    await agent.flush()
    return receiver.waitForSpans(count, (s) => s.traceId === tx.traceId && s.spanId !== tx.id && filter(s))
  }

  t.test('a promise query: name, attributes, parent, kind CLIENT', async (t) => {
    const tx = await inTransaction('promise', async () => {
      const res = await client.query('SELECT name FROM users WHERE id = $1', [1])
      t.same(res.rows, [{ name: 'ann' }])
      t.equal(agent.currentTransaction?.name, 'promise', 'context kept across await')
      return agent.currentTransaction!
    })
    const [span] = await spansOf(tx, 1)
    t.equal(span!.name, 'SELECT users')
    t.equal(span!.kind, 3)
    t.equal(span!.parentSpanId, tx.id)
    t.equal(span!.status.code, 0)
    t.match(span!.attributes, {
      'db.system.name': 'postgresql',
      'db.namespace': db.database,
      'db.query.text': 'SELECT name FROM users WHERE id = $1',
      'db.operation.name': 'SELECT',
      'server.address': '127.0.0.1',
      'server.port': db.port
    })
  })

  t.test('callback queries (text, values, config.callback) run their callback in the caller\'s context', async (t) => {
    const seen: Array<string | undefined> = []
    const tx = await inTransaction('callback', async (tx) => {
      await new Promise<void>((resolve, reject) => {
        client.query('SELECT id FROM users', (err, res) => {
          seen.push(agent.currentTransaction?.name)
          if (err !== null) return reject(err)
          t.equal(res.rowCount, 2)
          resolve()
        })
      })
      await new Promise<void>((resolve, reject) => {
        client.query('UPDATE users SET name = $1 WHERE id = $2', ['ann', 1], (err) => {
          seen.push(agent.currentTransaction?.name)
          if (err !== null) reject(err); else resolve()
        })
      })
      await new Promise<void>((resolve, reject) => {
        client.query({
          text: 'DELETE FROM users WHERE id = $1',
          values: [-1],
          callback: (err: Error | null) => {
            seen.push(agent.currentTransaction?.name)
            if (err !== null) reject(err); else resolve()
          }
        } as any)
      })
      return tx
    })
    t.same(seen, ['callback', 'callback', 'callback'])
    const spans = await spansOf(tx, 3)
    t.same(spans.map((s) => s.name).sort(), ['DELETE users', 'SELECT users', 'UPDATE users'])
    for (const s of spans) t.equal(s.parentSpanId, tx.id)
  })

  t.test('a span is the child of the current span, not only of the transaction', async (t) => {
    let parentId = ''
    const tx = await inTransaction('nested', async (tx) => {
      const outer = agent.startSpan('outer', 'app')!
      parentId = outer.id
      await client.query('SELECT 1')
      outer.end()
      return tx
    })
    const spans = await spansOf(tx, 2)
    const query = spans.find((s) => s.attributes['db.system.name'] === 'postgresql')!
    t.equal(query.parentSpanId, parentId)
  })

  t.test('a failing query rejects exactly as without the agent and marks its span failed', async (t) => {
    const tx = await inTransaction('failing', async (tx) => {
      const err = await client.query('SELEC 1').catch((e: unknown) => e) as pg.DatabaseError
      t.type(err, pg.DatabaseError)
      t.equal(err.code, '42601')
      t.match(err.message, /syntax error/)
      const cbErr = await new Promise<Error | null>((resolve) => client.query('SELEC 2', (e) => resolve(e)))
      t.equal((cbErr as pg.DatabaseError).code, '42601', 'the callback gets pg\'s error')
      return tx
    })
    const spans = await spansOf(tx, 2)
    for (const span of spans) {
      t.equal(span.status.code, 2)
      t.equal(span.attributes['error.type'], '42601')
      t.equal(span.attributes['db.response.status_code'], '42601')
      t.equal(span.status.message, undefined, 'server messages can quote values: not recorded')
    }
  })

  t.test('odd arguments throw synchronously, exactly as pg does', async (t) => {
    await inTransaction('odd', async () => {
      t.throws(() => client.query(null as any), { name: 'TypeError', message: 'Client was passed a null or undefined query' })
      t.throws(() => client.query(undefined as any), TypeError)
      t.throws(() => (client.query as any)('SELECT 1', [], 'not a function'), { name: 'TypeError', message: 'callback is not a function' })
      // No text: pg reports it through the promise.
      await t.rejects(client.query({} as any), /text or a name/)
    })
    const check = await client.query('SELECT 1 AS ok')
    t.same(check.rows, [{ ok: 1 }], 'the client is still usable')
  })

  t.test('pg-query-stream: the stream comes back unchanged and its span ends with it', async (t) => {
    const tx = await inTransaction('stream', async (tx) => {
      const qs = new QueryStream('SELECT n FROM generate_series(1, 250) AS n', [], { batchSize: 50 })
      const returned = client.query(qs)
      t.equal(returned, qs, 'query returns the submittable itself')
      t.equal(qs.listenerCount('error'), 0, 'no error listener added')
      let rows = 0
      for await (const row of returned) rows += (row as { n: number }).n > 0 ? 1 : 0
      t.equal(rows, 250)
      t.equal(agent.currentTransaction?.name, 'stream')
      return tx
    })
    const [span] = await spansOf(tx, 1)
    t.equal(span!.parentSpanId, tx.id)
    t.equal(span!.attributes['db.operation.name'], 'SELECT')
    t.equal(span!.attributes['db.query.text'], 'SELECT n FROM generate_series(?, ?) AS n')
  })

  t.test('a failing stream errors as without the agent and marks its span failed', async (t) => {
    const tx = await inTransaction('stream-fail', async (tx) => {
      const qs = client.query(new QueryStream('SELECT nope FROM users'))
      await t.rejects((async () => { for await (const row of qs) t.fail(String(row)) })(), { code: '42703' })
      return tx
    })
    const [span] = await spansOf(tx, 1)
    t.equal(span!.status.code, 2)
    t.equal(span!.attributes['error.type'], '42703')
  })

  t.test('a stream abandoned half-way still ends its span', async (t) => {
    const tx = await inTransaction('stream-early', async (tx) => {
      const qs = client.query(new QueryStream('SELECT n FROM generate_series(1, 1000) AS n', [], { batchSize: 10 }))
      for await (const row of qs) if ((row as { n: number }).n === 3) break
      t.equal(qs.destroyed, true)
      return tx
    })
    const [span] = await spansOf(tx, 1)
    t.equal(span!.parentSpanId, tx.id)
    t.equal(span!.status.code, 0, 'stopping early is not a failure')
    t.same(await client.query('SELECT 1 AS ok').then((r) => r.rows), [{ ok: 1 }], 'the client is usable afterwards')
  })

  t.test('a submitted pg.Query (events or callback) gets a span that ends with it', async (t) => {
    const tx = await inTransaction('submitted', async (tx) => {
      const ok = new pg.Query('SELECT id FROM users')
      t.equal(client.query(ok), ok)
      await new Promise((resolve) => ok.on('end', resolve))
      await new Promise<void>((resolve) => {
        const bad = new pg.Query('SELECT nope FROM users')
        client.query(bad, (err: Error) => {
          t.equal((err as pg.DatabaseError).code, '42703')
          t.equal(agent.currentTransaction?.name, 'submitted')
          resolve()
        })
      })
      return tx
    })
    const spans = await spansOf(tx, 2)
    const failed = spans.find((s) => s.attributes['db.query.text'] === 'SELECT nope FROM users')!
    t.equal(failed.status.code, 2)
    t.equal(failed.attributes['error.type'], '42703')
    t.equal(spans.find((s) => s !== failed)!.status.code, 0)
  })

  t.test('pg-cursor: read and close; a failing cursor marks its span failed without adding an error listener', async (t) => {
    const tx = await inTransaction('cursor', async (tx) => {
      const cursor = new Cursor('SELECT id FROM users ORDER BY id')
      t.equal(client.query(cursor), cursor)
      t.same(await cursor.read(1), [{ id: 1 }])
      await cursor.close()
      const bad = new Cursor('SELECT nope FROM users')
      client.query(bad)
      await t.rejects(bad.read(1), { code: '42703' })
      t.equal(bad.listenerCount('error'), 0)
      return tx
    })
    const spans = await spansOf(tx, 2)
    const good = spans.find((s) => s.attributes['db.query.text'] === 'SELECT id FROM users ORDER BY id')!
    t.equal(good.status.code, 0)
    const failed = spans.find((s) => s.attributes['db.query.text'] === 'SELECT nope FROM users')!
    t.equal(failed.status.code, 2)
    t.equal(failed.attributes['error.type'], '42703')
  })

  t.test('Client#connect is a pg.connect span (promise and callback), refused connections fail as without the agent', async (t) => {
    const tx = await inTransaction('connect', async (tx) => {
      const c1 = new pg.Client(config)
      t.equal(await c1.connect(), c1, 'pg@8.23 resolves connect() with the client')
      await c1.end()
      const c2 = new pg.Client(config)
      await new Promise<void>((resolve, reject) => {
        const ret = c2.connect((err) => {
          t.equal(agent.currentTransaction?.name, 'connect')
          if (err !== null && err !== undefined) reject(err); else resolve()
        })
        t.equal(ret, undefined)
      })
      await c2.end()
      // A port nothing listens on: the closed port of a stopped server is the likeliest free one.
      const refused = new pg.Client({ ...config, port: 1 })
      await t.rejects(refused.connect(), { code: 'ECONNREFUSED' })
      return tx
    })
    const spans = await spansOf(tx, 3)
    const connects = spans.filter((s) => s.name === 'pg.connect')
    t.equal(connects.length, 3)
    for (const s of connects) {
      t.equal(s.parentSpanId, tx.id)
      t.match(s.attributes, { 'db.system.name': 'postgresql', 'db.namespace': db.database, 'server.address': '127.0.0.1' })
    }
    const failed = connects.find((s) => s.status.code === 2)!
    t.equal(failed.attributes['error.type'], 'ECONNREFUSED')
    t.equal(failed.attributes['server.port'], 1)
  })

  t.test('pool: query (promise, callback) and connect (promise, callback) keep the caller\'s context', async (t) => {
    const pool = new pg.Pool({ ...config, max: 1 })
    t.teardown(() => pool.end())
    const seen: string[] = []
    const tx = await inTransaction('pool', async (tx) => {
      await pool.query('SELECT 1 AS a')
      await new Promise<void>((resolve, reject) => pool.query('SELECT 2 AS b', (err) => {
        seen.push(agent.currentTransaction!.name)
        if (err !== null && err !== undefined) reject(err); else resolve()
      }))
      const c = await pool.connect()
      await c.query('SELECT id FROM users')
      c.release()
      await new Promise<void>((resolve, reject) => pool.connect((err, c2, release) => {
        seen.push(agent.currentTransaction!.name)
        if (err !== undefined && err !== null) return reject(err)
        c2!.query('SELECT name FROM users', (err) => {
          seen.push(agent.currentTransaction!.name)
          release()
          if (err !== null) reject(err); else resolve()
        })
      }))
      return tx
    })
    t.same(seen, ['pool', 'pool', 'pool'])
    const spans = await spansOf(tx, 5)
    t.equal(spans.filter((s) => s.name === 'pg.connect').length, 1, 'one connection made for the pool')
    for (const s of spans) t.equal(s.parentSpanId, tx.id, `${s.name} is a child of the transaction`)
  })

  const pools = {
    'pg.Pool': () => new pg.Pool({ ...config, max: 1 }),
    'pg-pool used directly': () => new (require('pg-pool'))({ ...config, max: 1, Client: pg.Client }) as import('pg').Pool
  }
  for (const [kind, makePool] of Object.entries(pools)) {
    t.test(`${kind}: a checkout queued behind a busy pool runs in its own transaction, not the releaser's`, async (t) => {
      const pool = makePool()
      t.teardown(() => pool.end())
      const first = await pool.connect() // outside any transaction: holds the only client
      const seen: string[] = []
      const waiting = inTransaction('waiter', (tx) => new Promise<Tx>((resolve, reject) => {
        pool.connect((err, c, done) => {
          seen.push(agent.currentTransaction?.name ?? 'none')
          if (err !== undefined && err !== null) return reject(err)
          c!.query('SELECT 3 AS waited', (err) => {
            seen.push(agent.currentTransaction?.name ?? 'none')
            done()
            if (err !== null) reject(err); else resolve(tx)
          })
        })
      }))
      await inTransaction('releaser', async () => { first.release() })
      const tx = await waiting
      t.same(seen, ['waiter', 'waiter'])
      const [span] = await spansOf(tx, 1)
      t.equal(span!.parentSpanId, tx.id)
    })
  }

  t.test('a query queued on a busy client calls back in its own transaction', async (t) => {
    const seen: string[] = []
    const txA = inTransaction('busy-a', async (tx) => {
      await client.query('SELECT pg_sleep(0.05)')
      return tx
    })
    const txB = inTransaction('busy-b', (tx) => new Promise<Tx>((resolve, reject) => {
      client.query('SELECT 4 AS queued', (err) => {
        seen.push(agent.currentTransaction?.name ?? 'none')
        if (err !== null) reject(err); else resolve(tx)
      })
    }))
    const [a, b] = await Promise.all([txA, txB])
    t.same(seen, ['busy-b'])
    const [spanB] = await spansOf(b, 1)
    t.equal(spanB!.parentSpanId, b.id)
    const [spanA] = await spansOf(a, 1)
    t.equal(spanA!.parentSpanId, a.id)
  })

  t.test('concurrent transactions never mix spans', async (t) => {
    const pool = new pg.Pool({ ...config, max: 2 })
    t.teardown(() => pool.end())
    const txs = await Promise.all([0, 1, 2, 3, 4].map((i) => inTransaction(`tx${i}`, async (tx) => {
      await pool.query(`SELECT $1::int AS tx${i}_a`, [i])
      await new Promise((resolve) => setTimeout(resolve, 5 * (5 - i)))
      await new Promise<void>((resolve, reject) => pool.query(`SELECT $1::int AS tx${i}_b`, [i], (err) => {
        if (agent.currentTransaction?.name !== `tx${i}`) reject(new Error(`callback of tx${i} ran in ${agent.currentTransaction?.name}`))
        else if (err !== undefined && err !== null) reject(err)
        else resolve()
      }))
      return tx
    })))
    for (const [i, tx] of txs.entries()) {
      const spans = await spansOf(tx, 2, (s) => s.name !== 'pg.connect')
      t.equal(spans.length, 2, `tx${i} has its two queries`)
      for (const s of spans) {
        t.match(s.attributes['db.query.text'], new RegExp(`AS tx${i}_`))
        t.equal(s.parentSpanId, tx.id)
      }
    }
  })

  t.test('queries outside a transaction create no span', async (t) => {
    await client.query('SELECT 1 AS outside_promise')
    await new Promise<void>((resolve, reject) => client.query('SELECT 1 AS outside_callback', (err) => {
      t.equal(agent.currentTransaction, null)
      if (err !== null) reject(err); else resolve()
    }))
    const tx = await inTransaction('marker', async (tx) => {
      await client.query('SELECT 1 AS marker')
      return tx
    })
    await spansOf(tx, 1)
    const texts = receiver.spans().map((s) => String(s.attributes['db.query.text']))
    t.notOk(texts.some((text) => text.includes('outside')), 'no span for the queries made outside')
  })

  t.test('parameter values and SQL literals never leave the process', async (t) => {
    await client.query('DROP ROLE IF EXISTS apm_secret_user')
    await client.query('CREATE ROLE apm_secret_user')
    t.teardown(() => client.query('DROP ROLE IF EXISTS apm_secret_user'))
    const tx = await inTransaction('secrets', async (tx) => {
      await client.query("ALTER USER apm_secret_user PASSWORD 'hunter2'")
      await client.query("SELECT * FROM users WHERE card = '4111111111111111'")
      await client.query('SELECT * FROM users WHERE card = $1', ['5500000000000004'])
      await client.query('SELECT $$dollar-quoted-secret$$ AS x, E\'esc\\\'aped-secret\' AS y, 31337 AS z')
      // The server's message quotes the bad value: "invalid input syntax for type integer: ..."
      await t.rejects(client.query('SELECT $1::int', ['param-secret-in-error']), { code: '22P02' })
      return tx
    })
    const spans = await spansOf(tx, 5)
    const alter = spans.find((s) => s.attributes['db.operation.name'] === 'ALTER')
    t.equal(alter?.attributes['db.query.text'], 'ALTER USER apm_secret_user PASSWORD ?')
    const everything = receiver.requests.map((r) => JSON.stringify(r.body)).join('\n')
    for (const secret of ['hunter2', '4111111111111111', '5500000000000004', 'dollar-quoted-secret', 'aped-secret', '31337', 'param-secret-in-error']) {
      t.notOk(everything.includes(secret), `${secret} was not sent`)
    }
  })

  t.test('statements longer than 10,000 characters are truncated', async (t) => {
    const long = 'SELECT id FROM users WHERE id IN (' + Array.from({ length: 3000 }, (_, i) => i).join(', ') + ')'
    const tx = await inTransaction('long', async (tx) => {
      await client.query(long)
      return tx
    })
    const [span] = await spansOf(tx, 1)
    const text = span!.attributes['db.query.text'] as string
    t.ok(text.length <= 10_000, `length ${text.length}`)
    t.ok(text.startsWith('SELECT id FROM users WHERE id IN (?, ?'))
    t.equal(span!.name, 'SELECT users')
  })
})
