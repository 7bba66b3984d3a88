// client.realtimeKit.presets: get (list) and getPresetByID. Only the three built-in presets exist.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import { A, ACC, APP_ID, assertEnvelope, assertIso, assertPaging, assertUuid, expectError, randomUUID, rtk } from '../lib/capstan.mjs';

const BUILT_IN = ['group_call_host', 'group_call_participant', 'recorder_preset_v2'];

describe('presets', () => {
  it('get lists exactly the three built-in presets', async () => {
    const res = await rtk.presets.get(APP_ID, { ...ACC });
    const data = assertEnvelope(res, { paged: true });
    assert.deepEqual(data.map((p) => p.name).sort(), BUILT_IN);
    assertPaging(res.paging, { total_count: 3, start_offset: 1, end_offset: 3 });
    for (const p of data) {
      assertUuid(p.id, `${p.name}.id`);
      assertIso(p.created_at, `${p.name}.created_at`);
      assertIso(p.updated_at, `${p.name}.updated_at`);
    }
    assert.equal(new Set(data.map((p) => p.id)).size, 3, 'distinct ids');
    const again = assertEnvelope(await rtk.presets.get(APP_ID, { ...ACC }), { paged: true });
    assert.deepEqual(again.map((p) => p.id).sort(), data.map((p) => p.id).sort(), 'ids are stable');
  });

  it('get pages and searches by name', async () => {
    const search = await rtk.presets.get(APP_ID, { ...ACC, search: 'group_call' });
    assert.deepEqual(search.data.map((p) => p.name).sort(), ['group_call_host', 'group_call_participant']);
    assertPaging(search.paging, { total_count: 2, start_offset: 1, end_offset: 2 });
    const page = await rtk.presets.get(APP_ID, { ...ACC, page_no: 2, per_page: 2 });
    assert.equal(page.data.length, 1);
    assertPaging(page.paging, { total_count: 3, start_offset: 3, end_offset: 3 });
    const none = await rtk.presets.get(APP_ID, { ...ACC, search: 'webinar' });
    assert.deepEqual(none.data, []);
    assertPaging(none.paging, { total_count: 0, start_offset: 0, end_offset: 0 });
  });

  it('getPresetByID returns the full preset for each built-in', async () => {
    const list = assertEnvelope(await rtk.presets.get(APP_ID, { ...ACC }), { paged: true });
    for (const item of list) {
      const p = assertEnvelope(await rtk.presets.getPresetByID(item.id, { ...A }));
      assert.equal(p.id, item.id);
      assert.equal(p.name, item.name);
      assertIso(p.created_at, 'created_at');
      assertIso(p.updated_at, 'updated_at');
      for (const k of ['config', 'permissions', 'ui']) {
        assert.equal(typeof p[k], 'object', `${p.name}.${k} is an object`);
        assert.notEqual(p[k], null, `${p.name}.${k} is not null`);
      }
      assert.ok(['GROUP_CALL', 'WEBINAR', 'AUDIO_ROOM', 'LIVESTREAM'].includes(p.config.view_type), `config.view_type ${p.config.view_type}`);
      assert.ok(['RECORDER', 'LIVESTREAMER', 'NONE'].includes(p.permissions.recorder_type), `permissions.recorder_type ${p.permissions.recorder_type}`);
      assert.equal(typeof p.permissions.can_record, 'boolean');
      assert.equal(typeof p.permissions.hidden_participant, 'boolean');
    }
    const recorder = assertEnvelope(await rtk.presets.getPresetByID(list.find((p) => p.name === 'recorder_preset_v2').id, { ...A }));
    assert.equal(recorder.permissions.is_recorder, true, 'recorder_preset_v2 keeps is_recorder');
    assert.equal(recorder.permissions.hidden_participant, true, 'recorder_preset_v2 keeps hidden_participant');
    assert.equal(recorder.permissions.recorder_type, 'RECORDER');
    const host = assertEnvelope(await rtk.presets.getPresetByID(list.find((p) => p.name === 'group_call_host').id, { ...A }));
    assert.equal(host.permissions.hidden_participant, false);
    assert.equal(host.permissions.can_record, true);
  });

  it('getPresetByID of an unknown id is a 404', async () => {
    const id = randomUUID();
    await expectError(rtk.presets.getPresetByID(id, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [id] });
  });
});
