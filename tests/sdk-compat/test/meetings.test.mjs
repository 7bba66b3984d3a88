// client.realtimeKit.meetings: create, get (list), getMeetingByID, updateMeetingByID (PATCH), replaceMeetingByID (PUT).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import {
  A, ACC, APP_ID, assertEnvelope, assertIso, assertNoSecrets, assertPaging, assertUuid, createMeeting, expectError, randomUUID, rtk, assertSameInstant, uniq,
} from '../lib/capstan.mjs';

const ACCESS_KEY = 'AKIA_SDKCOMPAT_ACCESS_KEY_1';
const SECRET = 'sdkcompat/secret/value+1';

function recordingConfig() {
  return {
    file_name_prefix: 'sdk_pfx',
    max_seconds: 3600,
    audio_config: { codec: 'MP3', channel: 'mono', export_file: true },
    video_config: { codec: 'H264', width: 1280, height: 720, export_file: true, watermark: { url: 'https://example.com/logo.png', position: 'right top', size: { width: 64, height: 32 } } },
    realtimekit_bucket_config: { enabled: true },
    live_streaming_config: { rtmp_url: 'rtmp://live.example.com/app/key' },
    storage_config: { type: 'aws', access_key: ACCESS_KEY, secret: SECRET, bucket: 'sdk-bucket', region: 'us-east-1', path: 'recordings/sdk' },
  };
}

/** Every non-secret field of the sent recording_config comes back as sent. */
function assertRecordingConfig(actual, sent) {
  assert.ok(actual && typeof actual === 'object', `recording_config is returned: ${JSON.stringify(actual)}`);
  assert.equal(actual.file_name_prefix, sent.file_name_prefix);
  assert.equal(actual.max_seconds, sent.max_seconds);
  assert.equal(actual.audio_config.codec, sent.audio_config.codec);
  assert.equal(actual.audio_config.channel, sent.audio_config.channel);
  assert.equal(actual.audio_config.export_file, sent.audio_config.export_file);
  assert.equal(actual.video_config.codec, sent.video_config.codec);
  assert.equal(actual.video_config.width, sent.video_config.width);
  assert.equal(actual.video_config.height, sent.video_config.height);
  assert.equal(actual.video_config.export_file, sent.video_config.export_file);
  assert.equal(actual.video_config.watermark.url, sent.video_config.watermark.url);
  assert.equal(actual.video_config.watermark.position, sent.video_config.watermark.position);
  assert.deepEqual(actual.video_config.watermark.size, sent.video_config.watermark.size);
  assert.deepEqual(actual.realtimekit_bucket_config, sent.realtimekit_bucket_config);
  assert.equal(actual.live_streaming_config.rtmp_url, sent.live_streaming_config.rtmp_url);
  const s = actual.storage_config;
  assert.ok(s, 'storage_config is returned (without secrets)');
  assert.equal(s.type, 'aws');
  assert.equal(s.bucket, 'sdk-bucket');
  assert.equal(s.region, 'us-east-1');
  assert.equal(s.path, 'recordings/sdk');
  assertNoSecrets(actual, [ACCESS_KEY, SECRET]);
}

function assertMeetingShape(m) {
  assertUuid(m.id, 'id');
  assertIso(m.created_at, 'created_at');
  assertIso(m.updated_at, 'updated_at');
  assert.ok(['ACTIVE', 'INACTIVE'].includes(m.status), `status ${m.status}`);
  for (const k of ['record_on_start', 'live_stream_on_start', 'persist_chat', 'summarize_on_end', 'transcribe_on_end']) {
    assert.equal(typeof m[k], 'boolean', `${k} is a boolean`);
  }
  assert.equal(typeof m.session_keep_alive_time_in_secs, 'number');
}

describe('meetings', () => {
  it('create stores every field, including recording_config, and answers 201 without secrets', async () => {
    const title = uniq('Full Meeting');
    const body = {
      ...ACC,
      title,
      record_on_start: false,
      live_stream_on_start: true,
      persist_chat: true,
      summarize_on_end: true,
      transcribe_on_end: true,
      session_keep_alive_time_in_secs: 120,
      recording_config: recordingConfig(),
      ai_config: {
        summarization: { summary_type: 'team_meeting', text_format: 'markdown', word_limit: 300 },
        transcription: { keywords: ['Capstan'], language: 'en-US', profanity_filter: true },
      },
    };
    const { data: res, response } = await rtk.meetings.create(APP_ID, body).withResponse();
    assert.equal(response.status, 201, 'POST /meetings answers 201');
    const m = assertEnvelope(res);
    assertMeetingShape(m);
    assert.equal(m.title, title);
    assert.equal(m.status, 'ACTIVE');
    assert.equal(m.record_on_start, false);
    assert.equal(m.live_stream_on_start, true);
    assert.equal(m.persist_chat, true);
    assert.equal(m.summarize_on_end, true);
    assert.equal(m.transcribe_on_end, true);
    assert.equal(m.session_keep_alive_time_in_secs, 120);
    assertRecordingConfig(m.recording_config, body.recording_config);
    assert.equal(m.ai_config.summarization.summary_type, 'team_meeting');
    assert.equal(m.ai_config.transcription.language, 'en-US');
    assert.deepEqual(m.ai_config.transcription.keywords, ['Capstan']);
    assertNoSecrets(res, [ACCESS_KEY, SECRET]);

    // Stored: getMeetingByID returns the same, still without secrets.
    const got = assertEnvelope(await rtk.meetings.getMeetingByID(m.id, { ...A }));
    assert.equal(got.id, m.id);
    assert.equal(got.title, title);
    assert.equal(got.session_keep_alive_time_in_secs, 120);
    assertRecordingConfig(got.recording_config, body.recording_config);
    assertNoSecrets(got, [ACCESS_KEY, SECRET]);
    assertSameInstant(got.created_at, m.created_at, 'created_at');
  });

  it('nullable fields accept null; getMeetingByID ignores the name query', async () => {
    const m = assertEnvelope(await rtk.meetings.create(APP_ID, { ...ACC, title: null, record_on_start: null, live_stream_on_start: null }));
    assertMeetingShape(m);
    assert.equal(m.record_on_start, false);
    assert.equal(m.live_stream_on_start, false);
    const got = assertEnvelope(await rtk.meetings.getMeetingByID(m.id, { ...A, name: 'anything' }));
    assert.equal(got.id, m.id);
    const patched = assertEnvelope(await rtk.meetings.updateMeetingByID(m.id, { ...A, title: 'now titled', record_on_start: true }));
    assert.equal(patched.title, 'now titled');
    assert.equal(patched.record_on_start, true);
  });

  it('create with no fields gives the documented defaults', async () => {
    const m = assertEnvelope(await rtk.meetings.create(APP_ID, { ...ACC }));
    assertMeetingShape(m);
    assert.equal(m.status, 'ACTIVE');
    assert.equal(m.record_on_start, false);
    assert.equal(m.live_stream_on_start, false);
    assert.equal(m.persist_chat, false);
    assert.equal(m.summarize_on_end, false);
    assert.equal(m.session_keep_alive_time_in_secs, 60, 'default keep-alive is 60 s');
    assert.ok(m.title === null || m.title === undefined || m.title === '', `no title: ${m.title}`);
    assert.ok(m.recording_config === null || m.recording_config === undefined, 'no recording_config');
  });

  it('get lists meetings with paging, search and status filters', async () => {
    const tag = uniq('List');
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await createMeeting({ title: `${tag} number ${i}` })).id);
    }
    const all = await rtk.meetings.get(APP_ID, { ...ACC, search: tag.toLowerCase() });
    const data = assertEnvelope(all, { paged: true });
    assert.deepEqual(new Set(data.map((m) => m.id)), new Set(ids), 'search matches the title case-insensitively');
    assertPaging(all.paging, { total_count: 3, start_offset: 1, end_offset: 3 });
    for (const m of data) {
      assertMeetingShape(m);
      assert.ok(!('ai_config' in m) || m.ai_config === null, 'ai_config is not part of list items');
    }

    const byId = await rtk.meetings.get(APP_ID, { ...ACC, search: ids[1] });
    assert.deepEqual(byId.data.map((m) => m.id), [ids[1]], 'search matches the meeting id');

    const p2 = await rtk.meetings.get(APP_ID, { ...ACC, search: tag, page_no: 2, per_page: 2 });
    assert.equal(p2.data.length, 1);
    assertPaging(p2.paging, { total_count: 3, start_offset: 3, end_offset: 3 });
    const p1 = await rtk.meetings.get(APP_ID, { ...ACC, search: tag, page_no: 1, per_page: 2 });
    assert.equal(p1.data.length, 2);
    assertPaging(p1.paging, { total_count: 3, start_offset: 1, end_offset: 2 });
    assert.equal(new Set([...p1.data, ...p2.data].map((m) => m.id)).size, 3, 'pages do not overlap');

    await rtk.meetings.updateMeetingByID(ids[0], { ...A, status: 'INACTIVE' });
    const inactive = await rtk.meetings.get(APP_ID, { ...ACC, search: tag, status: 'INACTIVE' });
    assert.deepEqual(inactive.data.map((m) => m.id), [ids[0]]);
    assert.equal(inactive.data[0].status, 'INACTIVE');
    const active = await rtk.meetings.get(APP_ID, { ...ACC, search: tag, status: 'ACTIVE' });
    assert.deepEqual(new Set(active.data.map((m) => m.id)), new Set(ids.slice(1)));

    const none = await rtk.meetings.get(APP_ID, { ...ACC, search: uniq('nothing') });
    assert.deepEqual(none.data, []);
    assertPaging(none.paging, { total_count: 0, start_offset: 0, end_offset: 0 });

    const window = await rtk.meetings.get(APP_ID, {
      ...ACC, search: tag, start_time: new Date(Date.now() - 3600_000).toISOString(), end_time: new Date(Date.now() + 3600_000).toISOString(),
    });
    assert.equal(window.data.length, 3, 'start_time/end_time around now include the new meetings');
    const past = await rtk.meetings.get(APP_ID, { ...ACC, search: tag, end_time: '2020-01-01T00:00:00Z' });
    assert.equal(past.data.length, 0, 'end_time in the past excludes them');
  });

  it('updateMeetingByID (PATCH) changes only the fields sent, and sets status INACTIVE', async () => {
    const sent = recordingConfig();
    const m = await createMeeting({ title: uniq('Patch'), persist_chat: true, session_keep_alive_time_in_secs: 90, recording_config: sent });

    const renamed = assertEnvelope(await rtk.meetings.updateMeetingByID(m.id, { ...A, title: 'Renamed by PATCH' }));
    assert.equal(renamed.id, m.id);
    assert.equal(renamed.title, 'Renamed by PATCH');
    assert.equal(renamed.persist_chat, true, 'persist_chat kept');
    assert.equal(renamed.session_keep_alive_time_in_secs, 90, 'keep-alive kept');
    assertRecordingConfig(renamed.recording_config, sent);
    assert.ok(Date.parse(renamed.updated_at) >= Date.parse(m.updated_at), 'updated_at moves forward');
    assertSameInstant(renamed.created_at, m.created_at, 'created_at');

    const off = assertEnvelope(await rtk.meetings.updateMeetingByID(m.id, { ...A, status: 'INACTIVE' }));
    assert.equal(off.status, 'INACTIVE');
    assert.equal(off.title, 'Renamed by PATCH');
    const got = assertEnvelope(await rtk.meetings.getMeetingByID(m.id, { ...A }));
    assert.equal(got.status, 'INACTIVE', 'status stored');

    const newConfig = { file_name_prefix: 'second', video_config: { codec: 'VP8' } };
    const reconfigured = assertEnvelope(await rtk.meetings.updateMeetingByID(m.id, { ...A, recording_config: newConfig, status: 'ACTIVE' }));
    assert.equal(reconfigured.status, 'ACTIVE');
    assert.equal(reconfigured.recording_config.file_name_prefix, 'second');
    assert.equal(reconfigured.recording_config.video_config.codec, 'VP8');
    assertNoSecrets(reconfigured, [ACCESS_KEY, SECRET]);
  });

  it('replaceMeetingByID (PUT) replaces every field', async () => {
    const m = await createMeeting({
      title: uniq('Put'), persist_chat: true, record_on_start: true, session_keep_alive_time_in_secs: 300, recording_config: recordingConfig(),
    });
    const replaced = assertEnvelope(await rtk.meetings.replaceMeetingByID(m.id, { ...A, title: 'Replaced', summarize_on_end: true }));
    assert.equal(replaced.id, m.id);
    assert.equal(replaced.title, 'Replaced');
    assert.equal(replaced.summarize_on_end, true);
    assert.equal(replaced.persist_chat, false, 'absent fields go back to their defaults');
    assert.equal(replaced.record_on_start, false);
    assert.equal(replaced.session_keep_alive_time_in_secs, 60);
    assert.ok(replaced.recording_config === null || replaced.recording_config === undefined, 'recording_config removed');
    assert.equal(replaced.status, 'ACTIVE', 'PUT does not change status');
    assertSameInstant(replaced.created_at, m.created_at, 'created_at');

    const sent = recordingConfig();
    const withConfig = assertEnvelope(await rtk.meetings.replaceMeetingByID(m.id, { ...A, title: 'Again', recording_config: sent }));
    assertRecordingConfig(withConfig.recording_config, sent);
    const got = assertEnvelope(await rtk.meetings.getMeetingByID(m.id, { ...A }));
    assert.equal(got.title, 'Again');
    assertRecordingConfig(got.recording_config, sent);
  });

  it('unknown meeting ids are 404', async () => {
    const id = randomUUID();
    await expectError(rtk.meetings.getMeetingByID(id, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [id] });
    await expectError(rtk.meetings.updateMeetingByID(id, { ...A, title: 'x' }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.meetings.replaceMeetingByID(id, { ...A, title: 'x' }), Cloudflare.NotFoundError, { status: 404 });
  });

  it('validation errors name the field', async () => {
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, session_keep_alive_time_in_secs: 5 }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['session_keep_alive_time_in_secs'] });
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, session_keep_alive_time_in_secs: 601 }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['session_keep_alive_time_in_secs'] });
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, recording_config: { max_seconds: 30 } }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['recording_config.max_seconds'] });
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, recording_config: { video_config: { codec: 'AV1' } } }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['recording_config.video_config.codec'] });
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, recording_config: { storage_config: { type: 'aws', bucket: 'b' } } }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['recording_config.storage_config.access_key'] });
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, ai_config: { transcription: { language: 'xx' } } }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['ai_config.transcription.language'] });
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, title: 42 }), Cloudflare.BadRequestError, { status: 400, mentions: ['title'] });
    await expectError(rtk.meetings.create(APP_ID, { ...ACC, persist_chat: 'yes' }), Cloudflare.BadRequestError, { status: 400, mentions: ['persist_chat'] });
    const m = await createMeeting();
    await expectError(rtk.meetings.updateMeetingByID(m.id, { ...A, status: 'PAUSED' }), Cloudflare.BadRequestError, { status: 400, mentions: ['status'] });
    await expectError(rtk.meetings.get(APP_ID, { ...ACC, status: 'ENDED' }), Cloudflare.BadRequestError, { status: 400, mentions: ['status'] });
  });
});
