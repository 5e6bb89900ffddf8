'use strict'
// CommonJS koa app (started with -r apm/start).
const Koa = require('koa')
const Router = require('@koa/router')
const KoaRouter = require('koa-router')
// This folder is its own package: 'apm' resolves from the repository root (the module -r started).
const agent = require('module').createRequire(require('path').join(__dirname, '..', '..', '..', 'package.json'))('apm')
const { build, listen } = require('../../fixtures/koa-routes.cjs')
listen(build({ Koa, Router, KoaRouter }, agent, { explicit: process.env.APM_TEST_EXPLICIT === '1' }))
