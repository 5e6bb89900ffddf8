'use strict'
// Express 5, one route.
const express = require('express')
const { listen } = require('./common')

const app = express()
app.get('/', (req, res) => {
  res.send('hello world')
})
listen(require('node:http').createServer(app))
