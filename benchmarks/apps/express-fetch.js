'use strict'
// Express 5 with one outgoing fetch per request to a local downstream (DOWNSTREAM_URL).
const express = require('express')
const { listen } = require('./common')

const downstream = process.env.DOWNSTREAM_URL
const app = express()
app.get('/', async (req, res) => {
  const r = await fetch(downstream)
  res.send(await r.text())
})
listen(require('node:http').createServer(app))
