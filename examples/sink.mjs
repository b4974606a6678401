#!/usr/bin/env node
// A demo webhook receiver: prints every notification Herald delivers to http://127.0.0.1:9999/
// and checks the generic-hmac signature with the key from examples/manifests/demo.yaml.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const key = process.env.HMAC_KEY ?? 'demo-hmac-key-change-me';
const port = Number(process.env.PORT ?? 9999);

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const expected = Buffer.from(`sha256=${createHmac('sha256', key).update(body).digest('hex')}`);
    const given = Buffer.from(String(req.headers['x-signature'] ?? ''));
    const signed = given.length === expected.length && timingSafeEqual(given, expected);
    console.log(`\n${req.method} ${req.url}  gotk-component: ${req.headers['gotk-component']}  signature ${signed ? 'valid' : 'INVALID'}`);
    console.log(JSON.stringify(JSON.parse(body.toString('utf8')), null, 2));
    res.writeHead(signed ? 200 : 401).end();
  });
}).listen(port, '127.0.0.1', () => console.log(`demo sink listening on http://127.0.0.1:${port}/`));
