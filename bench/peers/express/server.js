// The Express peer of bench/run (issue 13): a OneBot 11 HTTP server built the way NapCat's
// HTTP adapter is (express + cors + a json5 body parser + a token check + an action map), with
// send_private_msg answered in JavaScript the way mock-account answers it: params checked, a
// message id made, the envelope written. It stands for "what a Node host costs" in the table;
// it is not NapCat, which also talks to QQ.
//
// Usage: PORT=0 TOKEN=bench-token node bench/peers/express/server.js
'use strict';
const crypto = require('node:crypto');
const express = require('express');
const cors = require('cors');
const JSON5 = require('json5');

const token = process.env.TOKEN || '';
const port = Number(process.env.PORT || 0);

function envelope(res, retcode, data, message, echo) {
  res.json({
    status: retcode === 0 ? 'ok' : 'failed',
    retcode,
    data: data ?? null,
    message: message || '',
    wording: message || '',
    echo: echo ?? null,
  });
}

let counter = 0;
const actions = {
  send_private_msg(params) {
    const userId = Number(params.user_id);
    if (!Number.isSafeInteger(userId) || params.message === undefined) {
      return [1400, null, 'missing required param user_id or message'];
    }
    counter = (counter + 1) % 0x7fffffff;
    const hash = crypto.createHash('sha1').update(`${userId}:${counter}:${Date.now()}`).digest();
    return [0, { message_id: hash.readUInt32BE(0) & 0x7fffffff }, ''];
  },
  get_version_info() {
    return [0, { app_name: 'express-peer', app_version: '0.1.0', protocol_version: 'v11' }, ''];
  },
};

const app = express();
app.use(cors());
// NapCat reads the body as text and parses it with json5, so JSON and JSON5 both work.
app.use(express.text({ type: '*/*', limit: '50mb' }));
app.use((req, res, next) => {
  if (typeof req.body === 'string' && req.body.length > 0) {
    try {
      req.body = JSON5.parse(req.body);
    } catch {
      return envelope(res.status(400), 1400, null, 'body is not JSON', null);
    }
  } else {
    req.body = {};
  }
  next();
});
app.use((req, res, next) => {
  if (!token) return next();
  const header = req.headers.authorization || '';
  const given = header.startsWith('Bearer ') ? header.slice(7) : String(req.query.access_token || '');
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  if (!crypto.timingSafeEqual(a, b)) {
    return envelope(res.status(403), 1403, null, 'token verify failed', null);
  }
  next();
});
app.all('/:action', (req, res) => {
  const params = { ...req.query, ...req.body };
  const echo = params.echo;
  delete params.echo;
  delete params.access_token;
  const action = actions[req.params.action];
  if (!action) return envelope(res.status(404), 1404, null, `不支持的API ${req.params.action}`, echo);
  const [retcode, data, message] = action(params);
  envelope(res, retcode, data, message, echo);
});

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`express peer listening on 127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
