// Authentication and the error envelope as the SDK surfaces them (sections 3 and 5.5 of the contract).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import {
  A, ACC, ACCOUNT_ID, APP_ID, BASE_URL, TOKEN, assertEnvelope, assertErrorBody, createMeeting, expectError, randomUUID, rtk, sdk,
} from '../lib/capstan.mjs';

describe('authentication', () => {
  it('a bad token is a 401 AuthenticationError with the RealtimeKit error body, not retried', async () => {
    const { rtk: bad, requests } = sdk({ apiToken: 'cap_this-token-does-not-exist-0123456789abc' });
    const err = await expectError(bad.meetings.get(APP_ID, { ...ACC }), Cloudflare.AuthenticationError, { status: 401 });
    assert.equal(err.error.success, false);
    assert.equal(requests.length, 1, 'a 401 is not retried');
    assert.equal(requests[0].headers.get('authorization'), 'Bearer cap_this-token-does-not-exist-0123456789abc');
    await expectError(bad.apps.get({ ...ACC }), Cloudflare.AuthenticationError, { status: 401 });
    await expectError(bad.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: randomUUID() }), Cloudflare.AuthenticationError, { status: 401 });
    await expectError(bad.webhooks.getWebhooks(APP_ID, { ...ACC }), Cloudflare.AuthenticationError, { status: 401 });
  });

  it('a request without credentials is a 401 in the error envelope', async () => {
    const res = await fetch(`${BASE_URL}/accounts/${ACCOUNT_ID}/realtime/kit/${APP_ID}/meetings`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assertErrorBody(await res.json(), 401);
  });

  it('the SDK\'s X-Auth-Email + X-Auth-Key form is accepted', async () => {
    const { rtk: keyed, requests } = sdk({ apiToken: null, apiKey: TOKEN, apiEmail: 'sdk@example.com' });
    const res = await keyed.presets.get(APP_ID, { ...ACC });
    assert.equal(assertEnvelope(res, { paged: true }).length, 3);
    assert.equal(requests[0].headers.get('x-auth-key'), TOKEN);
    assert.equal(requests[0].headers.get('authorization'), null, 'no Authorization header in this form');
  });

  it('a token used on another account\'s path is a 403 PermissionDeniedError', async () => {
    const other = '0123456789abcdef0123456789abcdef' === ACCOUNT_ID ? 'fedcba9876543210fedcba9876543210' : '0123456789abcdef0123456789abcdef';
    await expectError(rtk.meetings.get(APP_ID, { account_id: other }), Cloudflare.PermissionDeniedError, { status: 403 });
    await expectError(rtk.apps.get({ account_id: other }), Cloudflare.PermissionDeniedError, { status: 403 });
  });

  it('an app id that does not exist in the account is a 404', async () => {
    const app = randomUUID();
    await expectError(rtk.meetings.get(app, { ...ACC }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.presets.get(app, { ...ACC }), Cloudflare.NotFoundError, { status: 404 });
  });
});

describe('error envelope', () => {
  it('validation errors are 400 {success:false, error:{code, message}} naming the field, never Cloudflare\'s errors[]', async () => {
    const err = await expectError(rtk.meetings.create(APP_ID, { ...ACC, session_keep_alive_time_in_secs: 1 }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['session_keep_alive_time_in_secs'] });
    assert.equal(err.error.error.code, 400);
    assert.ok(!('errors' in err.error) && !('result' in err.error), 'not the Cloudflare v4 envelope');
    assert.equal(err.message, `400 ${JSON.stringify(err.error)}`, 'the SDK puts the JSON body in err.message');
  });

  it('several invalid fields are all named in one message', async () => {
    const m = await createMeeting();
    await expectError(rtk.meetings.addParticipant(m.id, { ...A, picture: 'nope' }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['custom_participant_id', 'preset_name', 'picture'] });
  });

  it('a field of the wrong type is a 400 naming the field', async () => {
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ACC, name: 'x', url: 'https://hooks.example.com/capstan', events: 'meeting.started' }),
      Cloudflare.BadRequestError, { status: 400, mentions: ['events'] });
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, session_keep_alive_time_in_secs: '60' }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['session_keep_alive_time_in_secs'] });
    await expectError(rtk.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: 123 }), Cloudflare.BadRequestError, { status: 400, mentions: ['meeting_id'] });
  });

  it('a body over 1 MiB is a 413 in the error envelope, sent once', async () => {
    const { rtk: counted, requests } = sdk();
    const err = await expectError(counted.meetings.create(APP_ID, { ...ACC, title: 'x'.repeat(1024 * 1024 + 16) }), Cloudflare.APIError, { status: 413 });
    assert.equal(err.constructor, Cloudflare.APIError, 'the SDK has no class of its own for 413');
    assert.equal(requests.length, 1, 'not retried');
  });

  it('unknown JSON fields are ignored', async () => {
    const m = assertEnvelope(await rtk.meetings.create(APP_ID, { ...ACC, title: 'extra fields', preferred_region: 'ap-south-1', no_such_field: { a: 1 } }));
    assert.equal(m.title, 'extra fields');
    assert.ok(!('no_such_field' in m));
  });

  it('a 404 has the error body and is sent once', async () => {
    const { rtk: counted, requests } = sdk();
    const id = randomUUID();
    const err = await expectError(counted.meetings.getMeetingByID(id, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [id] });
    assert.equal(err.error.error.code, 404);
    assert.equal(requests.length, 1);
  });

  it('unknown routes and methods answer the same error body', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const route = await fetch(`${BASE_URL}/accounts/${ACCOUNT_ID}/realtime/kit/${APP_ID}/no-such-thing`, { headers });
    assert.equal(route.status, 404);
    assertErrorBody(await route.json(), 404);
    const method = await fetch(`${BASE_URL}/accounts/${ACCOUNT_ID}/realtime/kit/${APP_ID}/webhooks`, { method: 'DELETE', headers });
    assert.ok(method.status === 404 || method.status === 405, `status ${method.status}`);
    assertErrorBody(await method.json(), method.status);
  });

  it('routes are also served without the /client/v4 prefix', async () => {
    const res = await fetch(`${BASE_URL.replace(/\/client\/v4$/, '')}/accounts/${ACCOUNT_ID}/realtime/kit/${APP_ID}/presets`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200);
    assert.equal(assertEnvelope(await res.json(), { paged: true }).length, 3);
  });
});
