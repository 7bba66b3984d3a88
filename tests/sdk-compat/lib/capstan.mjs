// Shared helpers: the official SDK client pointed at the Capstan server under test, a request log, and
// assertions on the RealtimeKit envelope and error body.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import Cloudflare from 'cloudflare';

function required(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the suite with tests/sdk-compat/run.sh sqlite|postgres`);
  }
  return v;
}

export const SERVER = required('CAPSTAN_URL').replace(/\/+$/, '');
export const ACCOUNT_ID = required('CAPSTAN_ACCOUNT_ID');
export const APP_ID = required('CAPSTAN_APP_ID');
export const TOKEN = required('CAPSTAN_TOKEN');
export const BASE_URL = `${SERVER}/client/v4`;

/** Path parameters most methods take. */
export const A = Object.freeze({ account_id: ACCOUNT_ID, app_id: APP_ID });
/** Only the account, for methods whose first argument is the app id. */
export const ACC = Object.freeze({ account_id: ACCOUNT_ID });

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/**
 * A new SDK client as an SDK user would create it, `new Cloudflare({ apiToken, baseURL })`, with a `fetch`
 * that records every request (so tests can count retries). Default retries (maxRetries 2) are kept on purpose.
 */
export function sdk(options = {}) {
  const requests = [];
  const recordingFetch = async (url, init = {}) => {
    const entry = { method: (init.method ?? 'GET').toUpperCase(), url: String(url), headers: new Headers(init.headers), body: init.body };
    requests.push(entry);
    const response = await fetch(url, init);
    entry.status = response.status;
    entry.responseHeaders = response.headers;
    return response;
  };
  const client = new Cloudflare({ apiToken: TOKEN, baseURL: BASE_URL, fetch: recordingFetch, ...options });
  return { client, rtk: client.realtimeKit, requests };
}

/** A default client shared by tests that do not count requests. */
export const { rtk } = sdk();

/** A short random suffix for names and titles, so that searches only match this test's data. */
export function uniq(prefix = 'sdk') {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export { randomUUID };

export function assertIso(value, field) {
  assert.equal(typeof value, 'string', `${field} must be a string, got ${JSON.stringify(value)}`);
  assert.match(value, ISO_RE, `${field} must be an ISO-8601 date-time, got ${value}`);
  assert.ok(!Number.isNaN(Date.parse(value)), `${field} must parse as a date, got ${value}`);
}

export function assertUuid(value, field) {
  assert.equal(typeof value, 'string', `${field} must be a string, got ${JSON.stringify(value)}`);
  assert.match(value, UUID_RE, `${field} must be a lower-case UUID, got ${value}`);
}

/** `{success: true, data}`; with `paged` also `paging` of three non-negative integers. */
export function assertEnvelope(body, { paged = false } = {}) {
  assert.equal(typeof body, 'object', 'the SDK returns the parsed JSON body');
  assert.equal(body.success, true, `success must be true: ${JSON.stringify(body).slice(0, 300)}`);
  assert.ok('data' in body, 'the body has data');
  assert.ok(!('result' in body), 'no Cloudflare result envelope');
  assert.ok(!('errors' in body), 'no Cloudflare errors array');
  if (paged) {
    assertPaging(body.paging);
  }
  return body.data;
}

export function assertPaging(paging, expected) {
  assert.equal(typeof paging, 'object', 'paging must be an object');
  assert.notEqual(paging, null, 'paging must not be null');
  for (const k of ['total_count', 'start_offset', 'end_offset']) {
    assert.ok(Number.isInteger(paging[k]) && paging[k] >= 0, `paging.${k} must be a non-negative integer, got ${paging[k]}`);
  }
  if (expected) {
    assert.deepEqual(
      { total_count: paging.total_count, start_offset: paging.start_offset, end_offset: paging.end_offset },
      expected,
      'paging (1-based inclusive offsets, both 0 when the page is empty)',
    );
  }
}

/**
 * Awaits a call that must fail with `ErrorClass` (e.g. Cloudflare.NotFoundError) and checks the RealtimeKit
 * error body: `err.error` is `{success: false, error: {code: <status>, message}}`, and the message contains
 * every string of `mentions` (case-insensitive). Returns the error.
 */
export async function expectError(promise, ErrorClass, { status, mentions = [] } = {}) {
  let err;
  try {
    const value = await promise;
    assert.fail(`expected ${ErrorClass.name}, but the call succeeded with ${JSON.stringify(value).slice(0, 400)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) {
      throw e;
    }
    err = e;
  }
  assert.ok(
    err instanceof ErrorClass,
    `expected ${ErrorClass.name}, got ${err?.constructor?.name} (status ${err?.status}): ${err?.message}`,
  );
  if (status !== undefined) {
    assert.equal(err.status, status, `HTTP status of ${ErrorClass.name}`);
  }
  assertErrorBody(err.error, err.status);
  const message = err.error.error.message;
  for (const m of [].concat(mentions)) {
    assert.ok(
      message.toLowerCase().includes(String(m).toLowerCase()),
      `error message should mention '${m}': ${message}`,
    );
  }
  assert.deepEqual(err.errors, [], 'err.errors is [] for the RealtimeKit error body (no Cloudflare errors array)');
  assert.ok(err.message.startsWith(`${err.status} `), `err.message starts with the status: ${err.message}`);
  return err;
}

export function assertErrorBody(body, status) {
  assert.equal(typeof body, 'object', `the error body must be JSON, got ${JSON.stringify(body)}`);
  assert.notEqual(body, null, 'the error body must not be null');
  assert.deepEqual(Object.keys(body).sort(), ['error', 'success'], `error body keys: ${JSON.stringify(body)}`);
  assert.equal(body.success, false);
  assert.equal(typeof body.error, 'object');
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message'], `error.* keys: ${JSON.stringify(body.error)}`);
  assert.equal(body.error.code, status, 'error.code is the HTTP status');
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0, 'error.message is not empty');
}

function b64urlJson(part, what) {
  assert.match(part, B64URL_RE, `${what} must be base64url without padding`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** Checks that `token` is a compact JWS with an RS256 header carrying a kid; returns {header, payload}. */
export function decodeJwt(token) {
  assert.equal(typeof token, 'string', 'token must be a string');
  const parts = token.split('.');
  assert.equal(parts.length, 3, `a JWT has 3 dot-separated parts, got ${parts.length}`);
  const header = b64urlJson(parts[0], 'JWT header');
  const payload = b64urlJson(parts[1], 'JWT payload');
  assert.match(parts[2], B64URL_RE, 'JWT signature must be base64url');
  assert.equal(header.alg, 'RS256', 'JWT alg');
  assert.equal(typeof header.kid, 'string', 'JWT header has a kid');
  assert.ok(header.kid.length > 0, 'JWT kid is not empty');
  // RS256 with a 2048-bit (or larger) key gives a signature of at least 256 bytes.
  assert.ok(Buffer.from(parts[2], 'base64url').length >= 256, 'RS256 signature length');
  return { header, payload };
}

/** True when any string value of `obj` (one level deep) equals `value`. */
export function hasValue(obj, value) {
  return Object.values(obj).some((v) => v === value);
}

/** Asserts that none of `secrets` occurs anywhere in the JSON of `body`, and that no key named like a secret does. */
export function assertNoSecrets(body, secrets) {
  const json = JSON.stringify(body);
  for (const s of secrets) {
    assert.ok(!json.includes(s), `a secret value came back in the response: ${s}`);
  }
  const keys = [];
  (function walk(v) {
    if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        keys.push(k);
        walk(x);
      }
    }
  })(body);
  for (const k of ['access_key', 'secret', 'password', 'private_key', 'secret_key']) {
    assert.ok(!keys.includes(k), `write-only key '${k}' came back in the response`);
  }
}

/** Creates a meeting through the SDK and returns its `data`. */
export async function createMeeting(body = {}) {
  const res = await rtk.meetings.create(APP_ID, { ...ACC, title: uniq('meeting'), ...body });
  return assertEnvelope(res);
}

/** Same instant at millisecond precision (exact string stability is checked once, in timestamps.test.mjs). */
export function assertSameInstant(actual, expected, field) {
  assert.equal(Date.parse(actual), Date.parse(expected), `${field}: ${actual} is not the same instant as ${expected}`);
}

const TIMESTAMP_KEYS = new Set(['created_at', 'updated_at', 'invoked_time', 'started_time', 'stopped_time', 'download_url_expiry']);

/** A copy with every timestamp field cut to milliseconds, for deepEqual of objects read at different times. */
export function msTimestamps(value) {
  if (Array.isArray(value)) {
    return value.map(msTimestamps);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [
      k, TIMESTAMP_KEYS.has(k) && typeof v === 'string' ? new Date(Date.parse(v)).toISOString() : msTimestamps(v),
    ]));
  }
  return value;
}
