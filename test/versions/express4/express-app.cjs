'use strict'
// CommonJS express app (started with -r apm/start).
const express = require('express')
// This folder is its own package: 'apm' resolves from the repository root (the module -r started).
const agent = require('module').createRequire(require('path').join(__dirname, '..', '..', '..', 'package.json'))('apm')
const { build, listen } = require('../../fixtures/express-routes.cjs')
const major = Number(require('express/package.json').version.split('.')[0])
listen(build(express, agent, { major, explicit: process.env.APM_TEST_EXPLICIT === '1' }))
