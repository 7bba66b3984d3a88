// client.realtimeKit.webhooks: createWebhook, getWebhooks, getWebhookByID, editWebhook, replaceWebhook, deleteWebhook.
// Nothing is ever delivered in this suite; the URLs only need to look public.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import { A, ACC, APP_ID, assertEnvelope, assertIso, assertUuid, expectError, randomUUID, rtk, assertSameInstant, msTimestamps, uniq } from '../lib/capstan.mjs';

const HOOK_URL = 'https://hooks.example.com/capstan';
const ALL_EVENTS = [
  'meeting.started', 'meeting.ended', 'meeting.participantJoined', 'meeting.participantLeft', 'meeting.chatSynced',
  'recording.statusUpdate', 'livestreaming.statusUpdate', 'meeting.transcript', 'meeting.summary',
];

function assertWebhook(w) {
  for (const k of ['id', 'name', 'url', 'events', 'enabled', 'created_at', 'updated_at']) {
    assert.ok(k in w, `webhook has ${k}: ${JSON.stringify(w)}`);
  }
  assertUuid(w.id, 'id');
  assert.equal(typeof w.name, 'string');
  assert.equal(typeof w.url, 'string');
  assert.ok(Array.isArray(w.events), 'events is an array');
  assert.equal(typeof w.enabled, 'boolean');
  assertIso(w.created_at, 'created_at');
  assertIso(w.updated_at, 'updated_at');
  return w;
}

async function create(extra = {}) {
  return assertWebhook(assertEnvelope(await rtk.webhooks.createWebhook(APP_ID, {
    ...ACC, name: uniq('hook'), url: HOOK_URL, events: ['recording.statusUpdate'], ...extra,
  })));
}

describe('webhooks', () => {
  it('createWebhook answers 201 with the webhook, enabled by default', async () => {
    const name = uniq('hook');
    const { data: res, response } = await rtk.webhooks.createWebhook(APP_ID, {
      ...ACC, name, url: HOOK_URL, events: ['recording.statusUpdate', 'meeting.started'],
    }).withResponse();
    assert.equal(response.status, 201);
    const w = assertWebhook(assertEnvelope(res));
    assert.equal(w.name, name);
    assert.equal(w.url, HOOK_URL);
    assert.deepEqual([...w.events].sort(), ['meeting.started', 'recording.statusUpdate']);
    assert.equal(w.enabled, true, 'enabled defaults to true');

    const all = await create({ events: ALL_EVENTS, enabled: false, url: 'http://hooks.example.com:8080/all?x=1' });
    assert.deepEqual([...all.events].sort(), [...ALL_EVENTS].sort(), 'all nine events are accepted');
    assert.equal(all.enabled, false);
    assert.equal(all.url, 'http://hooks.example.com:8080/all?x=1');
  });

  it('getWebhooks lists the app\'s webhooks without paging', async () => {
    const a = await create();
    const b = await create({ events: ['meeting.ended'] });
    const res = await rtk.webhooks.getWebhooks(APP_ID, { ...ACC });
    const data = assertEnvelope(res);
    assert.ok(Array.isArray(data), 'data is an array');
    assert.ok(!('paging' in res), 'no paging for webhooks');
    const ids = data.map((w) => w.id);
    assert.ok(ids.includes(a.id) && ids.includes(b.id), 'both listed');
    for (const w of data) {
      assertWebhook(w);
    }
    assert.deepEqual(msTimestamps(data.find((w) => w.id === b.id)), msTimestamps(b), 'the listed webhook equals the created one');
  });

  it('getWebhookByID returns the webhook; unknown is 404', async () => {
    const w = await create({ events: ['meeting.participantJoined', 'meeting.participantLeft'] });
    const got = assertWebhook(assertEnvelope(await rtk.webhooks.getWebhookByID(w.id, { ...A })));
    assert.deepEqual(msTimestamps(got), msTimestamps(w));
    const id = randomUUID();
    await expectError(rtk.webhooks.getWebhookByID(id, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [id] });
  });

  it('editWebhook (PATCH) changes only the fields sent', async () => {
    const w = await create({ events: ['meeting.started'] });
    const edited = assertWebhook(assertEnvelope(await rtk.webhooks.editWebhook(w.id, { ...A, enabled: false })));
    assert.equal(edited.enabled, false);
    assert.equal(edited.name, w.name, 'name kept');
    assert.equal(edited.url, w.url, 'url kept');
    assert.deepEqual(edited.events, w.events, 'events kept');
    assertSameInstant(edited.created_at, w.created_at, 'created_at');

    const renamed = assertWebhook(assertEnvelope(await rtk.webhooks.editWebhook(w.id, {
      ...A, name: 'renamed', url: 'https://other.example.org/hook', events: ['meeting.ended', 'meeting.summary'],
    })));
    assert.equal(renamed.name, 'renamed');
    assert.equal(renamed.url, 'https://other.example.org/hook');
    assert.deepEqual([...renamed.events].sort(), ['meeting.ended', 'meeting.summary']);
    assert.equal(renamed.enabled, false, 'enabled kept');
    const got = assertEnvelope(await rtk.webhooks.getWebhookByID(w.id, { ...A }));
    assert.deepEqual(msTimestamps(got), msTimestamps(renamed));
  });

  it('replaceWebhook (PUT) replaces every field', async () => {
    const w = await create({ enabled: false, events: ['meeting.started', 'meeting.ended'] });
    const replaced = assertWebhook(assertEnvelope(await rtk.webhooks.replaceWebhook(w.id, {
      ...A, name: 'replaced', url: 'https://replaced.example.net/x', events: ['recording.statusUpdate'],
    })));
    assert.equal(replaced.id, w.id);
    assert.equal(replaced.name, 'replaced');
    assert.equal(replaced.url, 'https://replaced.example.net/x');
    assert.deepEqual(replaced.events, ['recording.statusUpdate']);
    assert.equal(replaced.enabled, true, 'enabled back to its default when not sent');
    assertSameInstant(replaced.created_at, w.created_at, 'created_at');
    await expectError(rtk.webhooks.replaceWebhook(w.id, { ...A, name: 'no url', events: ['meeting.started'] }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['url'] });
    await expectError(rtk.webhooks.replaceWebhook(randomUUID(), { ...A, name: 'x', url: HOOK_URL, events: ['meeting.started'] }), Cloudflare.NotFoundError,
      { status: 404 });
  });

  it('deleteWebhook returns the deleted webhook; it is gone afterwards', async () => {
    const w = await create();
    const deleted = assertWebhook(assertEnvelope(await rtk.webhooks.deleteWebhook(w.id, { ...A })));
    assert.equal(deleted.id, w.id);
    assert.equal(deleted.name, w.name);
    await expectError(rtk.webhooks.getWebhookByID(w.id, { ...A }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.webhooks.deleteWebhook(w.id, { ...A }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.webhooks.editWebhook(w.id, { ...A, enabled: true }), Cloudflare.NotFoundError, { status: 404 });
    const list = assertEnvelope(await rtk.webhooks.getWebhooks(APP_ID, { ...ACC }));
    assert.ok(!list.some((x) => x.id === w.id), 'not listed any more');
  });

  it('loopback and private URLs are refused (Webhooks:AllowPrivateTargets is off)', async () => {
    for (const url of ['http://127.0.0.1/x', 'http://localhost:9000/hook', 'http://10.1.2.3/hook', 'http://169.254.169.254/latest', 'http://[::1]/x']) {
      await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ACC, name: uniq('private'), url, events: ['meeting.started'] }), Cloudflare.BadRequestError,
        { status: 400, mentions: ['url'] });
    }
    const w = await create();
    await expectError(rtk.webhooks.editWebhook(w.id, { ...A, url: 'http://127.0.0.1/x' }), Cloudflare.BadRequestError, { status: 400, mentions: ['url'] });
    await expectError(rtk.webhooks.replaceWebhook(w.id, { ...A, name: 'x', url: 'http://127.0.0.1/x', events: ['meeting.started'] }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['url'] });
    const got = assertEnvelope(await rtk.webhooks.getWebhookByID(w.id, { ...A }));
    assert.equal(got.url, HOOK_URL, 'unchanged');
  });

  it('validation names the field', async () => {
    const ok = { ...ACC, name: 'v', url: HOOK_URL, events: ['meeting.started'] };
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ok, name: undefined }), Cloudflare.BadRequestError, { status: 400, mentions: ['name'] });
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ok, url: undefined }), Cloudflare.BadRequestError, { status: 400, mentions: ['url'] });
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ok, events: undefined }), Cloudflare.BadRequestError, { status: 400, mentions: ['events'] });
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ok, events: [] }), Cloudflare.BadRequestError, { status: 400, mentions: ['events'] });
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ok, events: ['recording.started'] }), Cloudflare.BadRequestError, { status: 400, mentions: ['events'] });
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ok, url: 'ftp://hooks.example.com/x' }), Cloudflare.BadRequestError, { status: 400, mentions: ['url'] });
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ok, url: 'not a url' }), Cloudflare.BadRequestError, { status: 400, mentions: ['url'] });
    await expectError(rtk.webhooks.createWebhook(APP_ID, { ...ok, enabled: 'yes' }), Cloudflare.BadRequestError, { status: 400, mentions: ['enabled'] });
  });
});
