'use strict'
// Express 5 with one PostgreSQL query per request (pg.Pool, PG_URL).
const express = require('express')
const pg = require('pg')
const { listen } = require('./common')

const pool = new pg.Pool({ connectionString: process.env.PG_URL, max: 10 })
const app = express()
app.get('/', async (req, res) => {
  const result = await pool.query('SELECT $1::int AS n', [1])
  res.json(result.rows[0])
})
listen(require('node:http').createServer(app))
