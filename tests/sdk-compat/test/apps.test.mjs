// client.realtimeKit.apps: get (list) and post (create).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import { ACC, APP_ID, assertEnvelope, assertIso, assertPaging, assertUuid, expectError, rtk, sdk, uniq } from '../lib/capstan.mjs';

describe('apps', () => {
  it('get lists the bootstrap app in the list envelope', async () => {
    const res = await rtk.apps.get({ ...ACC });
    const data = assertEnvelope(res, { paged: true });
    assert.ok(Array.isArray(data), 'data is an array');
    const app = data.find((a) => a.id === APP_ID);
    assert.ok(app, `the bootstrap app ${APP_ID} is listed`);
    assert.equal(typeof app.name, 'string');
    assertIso(app.created_at, 'created_at');
    assert.ok(res.paging.total_count >= 1);
    assert.equal(res.paging.start_offset, 1);
    assert.equal(res.paging.end_offset, data.length);
  });

  it('post creates an app nested under data.app, and get finds it by name', async () => {
    const name = uniq('app');
    const { data: res, response } = await rtk.apps.post({ ...ACC, name }).withResponse();
    assert.ok(response.status === 200 || response.status === 201, `status ${response.status}`);
    const data = assertEnvelope(res);
    assert.ok(data.app, 'data.app (the created app is nested under app)');
    assertUuid(data.app.id, 'data.app.id');
    assert.equal(data.app.name, name);
    assertIso(data.app.created_at, 'data.app.created_at');

    const found = await rtk.apps.get({ ...ACC, search: name.toUpperCase() });
    assertEnvelope(found, { paged: true });
    assert.deepEqual(found.data.map((a) => a.id), [data.app.id], 'search by name is case-insensitive and exact to this app');
    assertPaging(found.paging, { total_count: 1, start_offset: 1, end_offset: 1 });
  });

  it('a new app has the built-in presets and its own meetings', async () => {
    const created = assertEnvelope(await rtk.apps.post({ ...ACC, name: uniq('app') }));
    const appId = created.app.id;
    const presets = assertEnvelope(await rtk.presets.get(appId, { ...ACC }), { paged: true });
    assert.deepEqual(presets.map((p) => p.name).sort(), ['group_call_host', 'group_call_participant', 'recorder_preset_v2']);
    const meeting = assertEnvelope(await rtk.meetings.create(appId, { ...ACC, title: 'in another app' }));
    const inNewApp = assertEnvelope(await rtk.meetings.get(appId, { ...ACC }), { paged: true });
    assert.deepEqual(inNewApp.map((m) => m.id), [meeting.id]);
    // The meeting belongs to the new app only.
    await expectError(rtk.meetings.getMeetingByID(meeting.id, { ...ACC, app_id: APP_ID }), Cloudflare.NotFoundError, { status: 404 });
  });

  it('get pages with page_no/per_page and sorts by creation time', async () => {
    const tag = uniq('pg');
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push(assertEnvelope(await rtk.apps.post({ ...ACC, name: `${tag}_${i}` })).app.id);
    }
    const asc = await rtk.apps.get({ ...ACC, search: tag, sort_order: 'ASC' });
    assert.deepEqual(asc.data.map((a) => a.id), ids, 'ASC: oldest first');
    const desc = await rtk.apps.get({ ...ACC, search: tag, sort_order: 'DESC' });
    assert.deepEqual(desc.data.map((a) => a.id), [...ids].reverse(), 'DESC: newest first');

    const page2 = await rtk.apps.get({ ...ACC, search: tag, sort_order: 'ASC', page_no: 2, per_page: 2 });
    assert.deepEqual(page2.data.map((a) => a.id), [ids[2]]);
    assertPaging(page2.paging, { total_count: 3, start_offset: 3, end_offset: 3 });
    const page3 = await rtk.apps.get({ ...ACC, search: tag, page_no: 3, per_page: 2 });
    assert.deepEqual(page3.data, []);
    assertPaging(page3.paging, { total_count: 3, start_offset: 0, end_offset: 0 });
  });

  it('post without a name is a 400 naming the field, sent once', async () => {
    const { rtk: counted, requests } = sdk();
    await expectError(counted.apps.post({ ...ACC }), Cloudflare.BadRequestError, { status: 400, mentions: ['name'] });
    assert.equal(requests.length, 1, 'a 400 is not retried');
  });
});
