// The demo shop: an Express app instrumented by apm (`node -r apm/start collector/demo/app.js`, run from the
// repository root). With PGHOST set it keeps users and orders in PostgreSQL; without, in memory.
'use strict'

const path = require('node:path')
const express = require('express')
// The agent instance the preload started (the repository root package, built to dist/).
const agent = require(path.join(__dirname, '../../dist/lib/index.js'))

const RELEASE = process.env.APM_SERVICE_VERSION ?? '1.0.0'
const useDb = !!process.env.PGHOST
let pool = null
if (useDb) {
  const { Pool } = require('pg')
  pool = new Pool({ max: 8 })
}
const memory = { users: new Map(), orders: new Map() }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function setup () {
  if (!useDb) {
    for (let i = 1; i <= 50; i++) memory.users.set(i, { id: i, name: `user ${i}` })
    return
  }
  await pool.query('CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text NOT NULL)')
  await pool.query('CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, user_id int NOT NULL, total numeric NOT NULL, created_at timestamptz DEFAULT now())')
  await pool.query("INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 50) g ON CONFLICT DO NOTHING")
}

async function findUser (id) {
  if (useDb) return (await pool.query('SELECT id, name FROM users WHERE id = $1', [id])).rows[0]
  await sleep(2 + Math.random() * 6)
  return memory.users.get(id)
}

function priceOf (order) {
  // 1.1.0 shipped a discount bug: a negative quantity makes an invalid array length.
  if (RELEASE !== '1.0.0' && order.quantity < 0) return new Array(order.quantity).length
  return order.quantity * 9.5
}

const app = express()
app.use(express.json())

app.get('/users', async (req, res) => {
  const rows = useDb ? (await pool.query('SELECT id, name FROM users ORDER BY id LIMIT 20')).rows : [...memory.users.values()].slice(0, 20)
  res.json(rows)
})

app.get('/users/:id', async (req, res) => {
  const user = await findUser(Number(req.params.id))
  if (!user) return res.status(404).json({ error: 'no such user' })
  res.json(user)
})

app.post('/orders', async (req, res, next) => {
  try {
    const order = { id: Number(req.body.id), userId: Number(req.body.userId), quantity: Number(req.body.quantity ?? 1) }
    const total = priceOf(order)
    if (useDb) {
      // duplicate ids fail with a unique violation, handled by the error middleware below
      await pool.query('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)', [order.id, order.userId, total])
    } else {
      await sleep(5 + Math.random() * 10)
      if (memory.orders.has(order.id)) throw Object.assign(new Error('duplicate key value violates unique constraint "orders_pkey"'), { name: 'DatabaseError' })
      memory.orders.set(order.id, order)
    }
    res.status(201).json({ id: order.id, total })
  } catch (err) {
    next(err)
  }
})

app.get('/slow', async (req, res) => {
  // a report that takes a while
  if (useDb) await pool.query('SELECT pg_sleep($1)', [0.3 + Math.random() * 0.5])
  else await sleep(300 + Math.random() * 500)
  res.json({ ok: true })
})

app.get('/recommendations', async (req, res) => {
  // A flaky downstream call; failures are captured as handled errors and a fallback is served.
  try {
    const r = await fetch(`http://127.0.0.1:${server.address().port}/internal/recommender`)
    if (!r.ok) throw new Error(`recommender answered ${r.status}`)
    res.json(await r.json())
  } catch (err) {
    agent.captureError(err)
    res.json({ items: [], fallback: true })
  }
})

app.get('/internal/recommender', async (req, res) => {
  await sleep(10 + Math.random() * 20)
  if (Math.random() < 0.2) return res.status(503).json({ error: 'overloaded' })
  res.json({ items: [1, 2, 3] })
})

app.get('/profile', (req, res) => {
  // A bug: no session on anonymous requests.
  const session = req.query.session ? { user: { name: 'x' } } : undefined
  res.json({ name: session.user.name })
})

app.use((err, req, res, next) => {
  res.status(500).json({ error: err.message })
})

let server
setup().then(() => {
  server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    process.stdout.write(`demo app listening ${server.address().port} (release ${RELEASE}, ${useDb ? 'PostgreSQL' : 'in-memory'})\n`)
  })
}, (err) => {
  process.stderr.write(`demo app: database setup failed: ${err.message}\n`)
  process.exit(1)
})

process.on('SIGTERM', () => {
  if (server) server.close()
  Promise.resolve(pool && pool.end()).catch(() => {}).then(() => agent.flush()).then(() => process.exit(0))
})
