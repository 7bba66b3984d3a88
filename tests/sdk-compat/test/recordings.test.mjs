// client.realtimeKit.recordings: startRecordings, getActiveRecordings, getOneRecording, getRecordings,
// pauseResumeStopRecording, startTrackRecording. No recorder worker runs in this suite, so recordings stay
// INVOKED until stopped (stop on INVOKED ends ERRORED, decisions.md).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import {
  A, ACC, APP_ID, assertEnvelope, assertIso, assertNoSecrets, assertPaging, assertUuid, createMeeting, expectError, randomUUID, rtk, assertSameInstant, sdk, uniq,
} from '../lib/capstan.mjs';

const BASE_KEYS = [
  'id', 'audio_download_url', 'download_url', 'download_url_expiry', 'file_size', 'invoked_time', 'output_file_name',
  'session_id', 'started_time', 'status', 'stopped_time',
];
const STATUSES = ['INVOKED', 'RECORDING', 'UPLOADING', 'UPLOADED', 'ERRORED', 'PAUSED'];

/** The base Recording object of 1.2: every required key present (nullable ones may be null). */
function assertRecording(r) {
  for (const k of BASE_KEYS) {
    assert.ok(k in r, `recording has key ${k}: ${JSON.stringify(r)}`);
  }
  assertUuid(r.id, 'id');
  assertIso(r.invoked_time, 'invoked_time');
  assert.equal(typeof r.output_file_name, 'string');
  assert.ok(r.output_file_name.length > 0);
  assert.ok(STATUSES.includes(r.status), `status ${r.status}`);
  if ('recording_duration' in r) {
    assert.ok(Number.isInteger(r.recording_duration) && r.recording_duration >= 0, `recording_duration ${r.recording_duration}`);
  }
  return r;
}

/** A recording that has not started: INVOKED, nothing recorded, no files. */
function assertFreshInvoked(r) {
  assertRecording(r);
  assert.equal(r.status, 'INVOKED');
  assert.equal(r.download_url, null);
  assert.equal(r.audio_download_url, null);
  assert.equal(r.download_url_expiry, null);
  assert.equal(r.file_size, null);
  assert.equal(r.started_time, null);
  assert.equal(r.stopped_time, null);
  assert.equal(r.session_id, null, 'no live session, so no session_id');
  const invoked = Date.parse(r.invoked_time);
  assert.ok(Math.abs(invoked - Date.now()) < 5 * 60_000, `invoked_time is now: ${r.invoked_time}`);
}

function assertApiCallStart(r) {
  assert.ok(r.start_reason, 'start_reason is returned');
  assert.equal(r.start_reason.reason, 'API_CALL');
  if (r.start_reason.caller) {
    assert.ok(['ORGANIZATION', 'USER'].includes(r.start_reason.caller.type), `caller.type ${r.start_reason.caller.type}`);
  }
}

async function start(meetingId, extra = {}) {
  return assertEnvelope(await rtk.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: meetingId, ...extra }));
}

function headerOf(headers, name) {
  if (!headers) {
    return undefined;
  }
  return typeof headers.get === 'function' ? headers.get(name) : headers[name];
}

const recordingPosts = (requests) => requests.filter((r) => r.method === 'POST' && /\/recordings$/.test(new URL(r.url).pathname));

describe('recordings: start, active, one', () => {
  it('startRecordings answers 200 with an INVOKED recording, output_file_name and start_reason API_CALL', async () => {
    const title = uniq('RecTitle');
    const m = await createMeeting({ title });
    const before = Date.now();
    const { data: res, response } = await rtk.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: m.id }).withResponse();
    assert.equal(response.status, 200, 'POST /recordings answers 200 (Dyte-v2), not 201');
    const r = assertEnvelope(res);
    assertFreshInvoked(r);
    assertApiCallStart(r);
    const match = r.output_file_name.match(/^(.+)_(\d{13})\.mp4$/);
    assert.ok(match, `output_file_name is {title}_{epoch ms}.mp4: ${r.output_file_name}`);
    assert.equal(match[1], title, 'the meeting title is the file stem');
    const epoch = Number(match[2]);
    assert.ok(epoch >= before - 60_000 && epoch <= Date.now() + 60_000, `epoch ms ${epoch} is now`);
  });

  it('file_name_prefix, codec and storage_config shape the recording; secrets never come back', async () => {
    const m = await createMeeting({ title: uniq('Shaped') });
    const accessKey = 'AKIA_REC_SDKCOMPAT';
    const secret = 'rec-secret-sdkcompat';
    const r = await start(m.id, {
      file_name_prefix: 'Physics_9am',
      max_seconds: 600,
      video_config: { codec: 'VP8', width: 1280, height: 720 },
      audio_config: { codec: 'AAC', channel: 'stereo', export_file: true },
      realtimekit_bucket_config: { enabled: true },
      storage_config: { type: 'aws', access_key: accessKey, secret, bucket: 'rec-bucket', region: 'eu-west-1', path: 'meetings' },
    });
    assertFreshInvoked(r);
    assert.match(r.output_file_name, /^Physics_9am_Shaped_[0-9a-f]{10}_\d{13}\.webm$/, `prefix + title + epoch, .webm for VP8: ${r.output_file_name}`);
    assert.ok(r.storage_config, 'storage_config is echoed');
    assert.equal(r.storage_config.type, 'aws');
    assert.equal(r.storage_config.bucket, 'rec-bucket');
    assert.equal(r.storage_config.region, 'eu-west-1');
    assert.equal(r.storage_config.path, 'meetings');
    assertNoSecrets(r, [accessKey, secret]);

    const one = assertEnvelope(await rtk.recordings.getOneRecording(r.id, { ...A }));
    assertNoSecrets(one, [accessKey, secret]);
    assert.equal(one.storage_config.bucket, 'rec-bucket');
    const list = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: m.id });
    assertNoSecrets(list, [accessKey, secret]);
    assert.equal(list.data[0].storage_config.type, 'aws');

    // Without a title the meeting id names the file; H264 (default) gives .mp4.
    const untitled = assertEnvelope(await rtk.meetings.create(APP_ID, { ...ACC }));
    const r2 = await start(untitled.id, { file_name_prefix: 'pfx' });
    assert.match(r2.output_file_name, new RegExp(`^pfx_${untitled.id}_\\d{13}\\.mp4$`), r2.output_file_name);
  });

  it('a second start on the same meeting is a ConflictError after exactly one request (x-should-retry: false)', async () => {
    const m = await createMeeting();
    const first = await start(m.id);
    const { rtk: counted, requests } = sdk();
    const err = await expectError(counted.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: m.id }), Cloudflare.ConflictError,
      { status: 409 });
    assert.equal(recordingPosts(requests).length, 1, `POST /recordings sent once, not retried: ${requests.map((r) => r.headers.get('x-stainless-retry-count')).join(',')}`);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].status, 409);
    assert.equal(headerOf(requests[0].responseHeaders, 'x-should-retry'), 'false', 'the 409 carries x-should-retry: false');
    assert.equal(headerOf(err.headers, 'x-should-retry'), 'false');

    // The first recording is still the active one.
    const active = assertEnvelope(await rtk.recordings.getActiveRecordings(m.id, { ...A }));
    assert.equal(active.id, first.id);
  });

  it('allow_multiple_recordings on both starts lets both run; a start without it then conflicts', async () => {
    const m = await createMeeting();
    const a = await start(m.id, { allow_multiple_recordings: true });
    await sleep(15);
    const b = await start(m.id, { allow_multiple_recordings: true });
    assert.notEqual(a.id, b.id);
    assertFreshInvoked(a);
    assertFreshInvoked(b);
    const active = assertEnvelope(await rtk.recordings.getActiveRecordings(m.id, { ...A }));
    assert.equal(active.id, b.id, 'getActiveRecordings gives the most recently invoked active recording');

    const { rtk: counted, requests } = sdk();
    await expectError(counted.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: m.id }), Cloudflare.ConflictError, { status: 409 });
    assert.equal(recordingPosts(requests).length, 1);

    // Flag only on the first start: the second (without it) conflicts; and the reverse.
    const m2 = await createMeeting();
    await start(m2.id, { allow_multiple_recordings: false });
    await expectError(rtk.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: m2.id, allow_multiple_recordings: true }), Cloudflare.ConflictError,
      { status: 409 });
  });

  it('getActiveRecordings: the active recording, 404 when none', async () => {
    const m = await createMeeting();
    await expectError(rtk.recordings.getActiveRecordings(m.id, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [m.id] });
    const r = await start(m.id);
    const res = await rtk.recordings.getActiveRecordings(m.id, { ...A });
    const active = assertEnvelope(res);
    assertRecording(active);
    assert.equal(active.id, r.id);
    assert.equal(active.status, 'INVOKED');
    assert.equal(active.output_file_name, r.output_file_name);
    await expectError(rtk.recordings.getActiveRecordings(randomUUID(), { ...A }), Cloudflare.NotFoundError, { status: 404 });
  });

  it('getOneRecording returns the recording with start_reason; unknown ids are 404', async () => {
    const m = await createMeeting();
    const r = await start(m.id);
    const one = assertEnvelope(await rtk.recordings.getOneRecording(r.id, { ...A }));
    assertFreshInvoked(one);
    assertApiCallStart(one);
    assert.equal(one.id, r.id);
    assert.equal(one.output_file_name, r.output_file_name);
    assertSameInstant(one.invoked_time, r.invoked_time, 'invoked_time');
    const id = randomUUID();
    await expectError(rtk.recordings.getOneRecording(id, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [id] });
  });

  it('startRecordings validation names the field; unknown meeting 404; INACTIVE meeting 400', async () => {
    const m = await createMeeting();
    const bad = (extra) => rtk.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: m.id, ...extra });
    const { rtk: counted, requests } = sdk();
    await expectError(counted.recordings.startRecordings(APP_ID, { ...ACC }), Cloudflare.BadRequestError, { status: 400, mentions: ['meeting_id'] });
    assert.equal(requests.length, 1, 'a 400 is not retried');
    await expectError(bad({ max_seconds: 30 }), Cloudflare.BadRequestError, { status: 400, mentions: ['max_seconds'] });
    await expectError(bad({ max_seconds: 86401 }), Cloudflare.BadRequestError, { status: 400, mentions: ['max_seconds'] });
    await expectError(bad({ file_name_prefix: 'not allowed!' }), Cloudflare.BadRequestError, { status: 400, mentions: ['file_name_prefix'] });
    await expectError(bad({ video_config: { width: 4000 } }), Cloudflare.BadRequestError, { status: 400, mentions: ['video_config.width'] });
    await expectError(bad({ video_config: { codec: 'AV1' } }), Cloudflare.BadRequestError, { status: 400, mentions: ['video_config.codec'] });
    await expectError(bad({ audio_config: { codec: 'FLAC' } }), Cloudflare.BadRequestError, { status: 400, mentions: ['audio_config.codec'] });
    await expectError(bad({ storage_config: { type: 'ftp', bucket: 'b' } }), Cloudflare.BadRequestError, { status: 400, mentions: ['storage_config.type'] });
    await expectError(bad({ storage_config: { type: 'aws', bucket: 'b', region: 'r', secret: 's' } }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['storage_config.access_key'] });
    await expectError(bad({ realtimekit_bucket_config: {} }), Cloudflare.BadRequestError, { status: 400, mentions: ['realtimekit_bucket_config.enabled'] });
    await expectError(bad({ max_seconds: 'sixty' }), Cloudflare.BadRequestError, { status: 400, mentions: ['max_seconds'] });
    // None of these started anything.
    await expectError(rtk.recordings.getActiveRecordings(m.id, { ...A }), Cloudflare.NotFoundError, { status: 404 });

    const unknown = randomUUID();
    await expectError(rtk.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: unknown }), Cloudflare.NotFoundError, { status: 404, mentions: [unknown] });

    const off = await createMeeting();
    await rtk.meetings.updateMeetingByID(off.id, { ...A, status: 'INACTIVE' });
    await expectError(rtk.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: off.id }), Cloudflare.BadRequestError, { status: 400, mentions: ['INACTIVE'] });
  });
});

describe('recordings: configuration', () => {
  it('the SDK\'s start body with every field (contract 5.2) is accepted', async () => {
    const m = await createMeeting();
    const accessKey = 'AK_full_body_sdkcompat';
    const secret = 'SK_full_body_sdkcompat';
    const { rtk: counted, requests } = sdk();
    const body = {
      meeting_id: m.id,
      allow_multiple_recordings: true,
      audio_config: { channel: 'stereo', codec: 'AAC', export_file: true },
      file_name_prefix: 'pfx',
      interactive_config: { type: 'ID3' },
      max_seconds: 60,
      realtimekit_bucket_config: { enabled: true },
      rtmp_out_config: { rtmp_url: 'rtmp://a.example/live' },
      storage_config: { type: 'aws', access_key: accessKey, secret, bucket: 'b', region: 'us-east-1', path: 'p' },
      url: 'https://example.com/recorder',
      video_config: { codec: 'H264', export_file: true, height: 720, width: 1280, watermark: { position: 'left top', size: { height: 1, width: 1 }, url: 'http://example.com' } },
    };
    const r = assertEnvelope(await counted.recordings.startRecordings(APP_ID, { ...ACC, ...body }));
    assert.deepEqual(JSON.parse(requests[0].body), body, 'sent as given, account_id only in the path');
    assertFreshInvoked(r);
    assertApiCallStart(r);
    // interactive_config (ID3) delivers an HLS tar (contract 1.3/4.12), so the output is named .tar.
    assert.match(r.output_file_name, /^pfx_.+_\d{13}\.tar$/);
    assert.equal(r.storage_config.type, 'aws');
    assert.equal(r.storage_config.bucket, 'b');
    assertNoSecrets(r, [accessKey, secret]);
  });

  it('the meeting\'s recording_config applies; the start body overrides it; its secrets never come back', async () => {
    const accessKey = 'AK_meeting_level_sdkcompat';
    const secret = 'SK_meeting_level_sdkcompat';
    const m = await createMeeting({
      title: uniq('Inherit'),
      recording_config: {
        file_name_prefix: 'meeting_pfx',
        video_config: { codec: 'VP8' },
        storage_config: { type: 'digitalocean', access_key: accessKey, secret, bucket: 'do-bucket', region: 'SGP1' },
      },
    });
    const inherited = await start(m.id, { allow_multiple_recordings: true });
    assert.match(inherited.output_file_name, /^meeting_pfx_Inherit_[0-9a-f]{10}_\d{13}\.webm$/, inherited.output_file_name);
    assert.ok(inherited.storage_config, 'the meeting\'s storage_config is the recording\'s');
    assert.equal(inherited.storage_config.type, 'digitalocean');
    assert.equal(inherited.storage_config.bucket, 'do-bucket');
    assertNoSecrets(inherited, [accessKey, secret]);

    const overridden = await start(m.id, { allow_multiple_recordings: true, file_name_prefix: 'request_pfx', video_config: { codec: 'H264' } });
    assert.match(overridden.output_file_name, /^request_pfx_Inherit_[0-9a-f]{10}_\d{13}\.mp4$/, overridden.output_file_name);
    const listed = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: m.id });
    assertNoSecrets(listed, [accessKey, secret]);
  });

  it('accepts VP9, odd sizes and the max_seconds / file_name_prefix bounds', async () => {
    const m = await createMeeting();
    const go = (extra) => start(m.id, { allow_multiple_recordings: true, ...extra });
    assert.match((await go({ video_config: { codec: 'VP9' } })).output_file_name, /\.webm$/, 'VP9 gives WebM');
    assertFreshInvoked(await go({ video_config: { width: 1281, height: 721 } }));
    assertFreshInvoked(await go({ video_config: { width: 1, height: 1920 } }));
    assertFreshInvoked(await go({ max_seconds: 60 }));
    assertFreshInvoked(await go({ max_seconds: 86400 }));
    const p64 = 'A'.repeat(32) + '_'.repeat(2) + '9'.repeat(30);
    assert.ok((await go({ file_name_prefix: p64 })).output_file_name.startsWith(`${p64}_`));
    await expectError(go({ file_name_prefix: `${p64}x` }), Cloudflare.BadRequestError, { status: 400, mentions: ['file_name_prefix'] });
    await expectError(go({ file_name_prefix: 'dash-not-allowed' }), Cloudflare.BadRequestError, { status: 400, mentions: ['file_name_prefix'] });
    await expectError(go({ video_config: { height: 0 } }), Cloudflare.BadRequestError, { status: 400, mentions: ['video_config.height'] });
    await expectError(go({ storage_config: { type: 'cloudflare', access_key: 'a', secret: 's', bucket: 'b' } }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['storage_config.type'] });
    await expectError(go({ video_config: { watermark: { url: 'https://example.com/w.png', position: 'center' } } }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['video_config.watermark.position'] });
    await expectError(go({ interactive_config: { type: 'JSON' } }), Cloudflare.BadRequestError, { status: 400, mentions: ['interactive_config.type'] });
  });

  it('storage_config: null is accepted', async () => {
    const m = await createMeeting();
    const r = await start(m.id, { storage_config: null });
    assertFreshInvoked(r);
    assert.ok(r.storage_config === null || r.storage_config === undefined, 'no storage_config');
  });
});

describe('recordings: pauseResumeStopRecording', () => {
  it('pause and resume on INVOKED are 400 naming the status', async () => {
    const m = await createMeeting();
    const r = await start(m.id);
    const { rtk: counted, requests } = sdk();
    await expectError(counted.recordings.pauseResumeStopRecording(r.id, { ...A, action: 'pause' }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['INVOKED'] });
    await expectError(counted.recordings.pauseResumeStopRecording(r.id, { ...A, action: 'resume' }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['INVOKED'] });
    assert.equal(requests.length, 2);
    assert.deepEqual(requests.map((q) => q.method), ['PUT', 'PUT']);
    assert.deepEqual(requests.map((q) => JSON.parse(q.body)), [{ action: 'pause' }, { action: 'resume' }]);
    const one = assertEnvelope(await rtk.recordings.getOneRecording(r.id, { ...A }));
    assert.equal(one.status, 'INVOKED', 'unchanged');
  });

  it('stop on INVOKED ends ERRORED with stop_reason API_CALL and frees the meeting', async () => {
    const m = await createMeeting();
    const r = await start(m.id);
    const stopped = assertEnvelope(await rtk.recordings.pauseResumeStopRecording(r.id, { ...A, action: 'stop' }));
    assertRecording(stopped);
    assert.equal(stopped.id, r.id);
    assert.equal(stopped.status, 'ERRORED');
    assert.ok(stopped.stop_reason, 'stop_reason is returned');
    assert.equal(stopped.stop_reason.reason, 'API_CALL');
    assertApiCallStart(stopped);
    assert.equal(stopped.download_url, null, 'no file');
    assert.equal(stopped.file_size, null);

    const one = assertEnvelope(await rtk.recordings.getOneRecording(r.id, { ...A }));
    assert.equal(one.status, 'ERRORED');
    assert.equal(one.stop_reason.reason, 'API_CALL');
    await expectError(rtk.recordings.getActiveRecordings(m.id, { ...A }), Cloudflare.NotFoundError, { status: 404 });

    // Every action on ERRORED is a 400 naming ERRORED.
    for (const action of ['stop', 'pause', 'resume']) {
      await expectError(rtk.recordings.pauseResumeStopRecording(r.id, { ...A, action }), Cloudflare.BadRequestError, { status: 400, mentions: ['ERRORED'] });
    }
    // The meeting can be recorded again.
    const again = await start(m.id);
    assert.notEqual(again.id, r.id);
    assert.equal(again.status, 'INVOKED');
  });

  it('invalid or missing action is a 400 naming action; unknown recording is 404', async () => {
    const m = await createMeeting();
    const r = await start(m.id);
    await expectError(rtk.recordings.pauseResumeStopRecording(r.id, { ...A, action: 'rewind' }), Cloudflare.BadRequestError, { status: 400, mentions: ['action'] });
    await expectError(rtk.recordings.pauseResumeStopRecording(r.id, { ...A }), Cloudflare.BadRequestError, { status: 400, mentions: ['action'] });
    const id = randomUUID();
    await expectError(rtk.recordings.pauseResumeStopRecording(id, { ...A, action: 'stop' }), Cloudflare.NotFoundError, { status: 404, mentions: [id] });
  });
});

describe('recordings: getRecordings filters and paging', () => {
  let meeting;
  let title;
  let prefix;
  const ids = [];

  before(async () => {
    title = uniq('FilterMeeting');
    prefix = uniq('fx');
    meeting = await createMeeting({ title });
    ids.push((await start(meeting.id, { allow_multiple_recordings: true, file_name_prefix: prefix })).id);
    await sleep(20);
    ids.push((await start(meeting.id, { allow_multiple_recordings: true })).id);
    await sleep(20);
    ids.push((await start(meeting.id, { allow_multiple_recordings: true })).id);
    // The middle one ends ERRORED.
    await rtk.recordings.pauseResumeStopRecording(ids[1], { ...A, action: 'stop' });
  });

  it('meeting_id filter lists the meeting\'s recordings newest first with the meeting object', async () => {
    const res = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id });
    const data = assertEnvelope(res, { paged: true });
    assert.deepEqual(data.map((r) => r.id), [...ids].reverse(), 'default order is DESC by invoked time');
    assertPaging(res.paging, { total_count: 3, start_offset: 1, end_offset: 3 });
    for (const r of data) {
      assertRecording(r);
      assert.ok(r.meeting, 'list items carry the meeting');
      assert.equal(r.meeting.id, meeting.id);
      assert.equal(r.meeting.title, title);
    }
    assert.deepEqual(data.map((r) => r.status), ['INVOKED', 'ERRORED', 'INVOKED']);
  });

  it('sort_order ASC and DESC', async () => {
    const asc = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, sort_by: 'invokedTime', sort_order: 'ASC' });
    assert.deepEqual(asc.data.map((r) => r.id), ids);
    const desc = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, sort_by: 'invokedTime', sort_order: 'DESC' });
    assert.deepEqual(desc.data.map((r) => r.id), [...ids].reverse());
  });

  it('status as an array goes out as repeated keys and filters', async () => {
    const { rtk: counted, requests } = sdk();
    const errored = await counted.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, status: ['ERRORED'] });
    assert.deepEqual(errored.data.map((r) => r.id), [ids[1]]);
    assertPaging(errored.paging, { total_count: 1, start_offset: 1, end_offset: 1 });

    const both = await counted.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, status: ['INVOKED', 'ERRORED'], sort_order: 'ASC' });
    assert.deepEqual(both.data.map((r) => r.id), ids);
    const sent = new URL(requests.at(-1).url);
    assert.deepEqual(sent.searchParams.getAll('status'), ['INVOKED', 'ERRORED'], 'the SDK sends repeated status keys');

    const invoked = await counted.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, status: ['INVOKED'], sort_order: 'ASC' });
    assert.deepEqual(invoked.data.map((r) => r.id), [ids[0], ids[2]]);

    // A comma list (Dyte-v2 explode:false) is accepted too.
    const comma = await counted.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, status: 'INVOKED,ERRORED' });
    assert.equal(comma.data.length, 3);

    const none = await counted.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, status: ['UPLOADED', 'RECORDING'] });
    assert.deepEqual(none.data, []);
    assertPaging(none.paging, { total_count: 0, start_offset: 0, end_offset: 0 });

    await expectError(counted.recordings.getRecordings(APP_ID, { ...ACC, status: ['DONE'] }), Cloudflare.BadRequestError, { status: 400, mentions: ['status'] });
  });

  it('page_no/per_page with 1-based inclusive offsets; both 0 when the page is empty', async () => {
    const q = { ...ACC, meeting_id: meeting.id, sort_order: 'ASC', per_page: 2 };
    const p1 = await rtk.recordings.getRecordings(APP_ID, { ...q, page_no: 1 });
    assert.deepEqual(p1.data.map((r) => r.id), ids.slice(0, 2));
    assertPaging(p1.paging, { total_count: 3, start_offset: 1, end_offset: 2 });
    const p2 = await rtk.recordings.getRecordings(APP_ID, { ...q, page_no: 2 });
    assert.deepEqual(p2.data.map((r) => r.id), ids.slice(2));
    assertPaging(p2.paging, { total_count: 3, start_offset: 3, end_offset: 3 });
    const p3 = await rtk.recordings.getRecordings(APP_ID, { ...q, page_no: 3 });
    assert.deepEqual(p3.data, []);
    assertPaging(p3.paging, { total_count: 3, start_offset: 0, end_offset: 0 });
    const single = await rtk.recordings.getRecordings(APP_ID, { ...q, per_page: 1, page_no: 2 });
    assert.deepEqual(single.data.map((r) => r.id), [ids[1]]);
    assertPaging(single.paging, { total_count: 3, start_offset: 2, end_offset: 2 });

    const empty = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: (await createMeeting()).id });
    assert.deepEqual(empty.data, []);
    assertPaging(empty.paging, { total_count: 0, start_offset: 0, end_offset: 0 });
  });

  it('search matches meeting title, meeting id and output file name, case-insensitively', async () => {
    const byTitle = await rtk.recordings.getRecordings(APP_ID, { ...ACC, search: title.toUpperCase() });
    assert.deepEqual(new Set(byTitle.data.map((r) => r.id)), new Set(ids));
    assert.equal(byTitle.paging.total_count, 3);
    const byId = await rtk.recordings.getRecordings(APP_ID, { ...ACC, search: meeting.id });
    assert.deepEqual(new Set(byId.data.map((r) => r.id)), new Set(ids));
    const byFile = await rtk.recordings.getRecordings(APP_ID, { ...ACC, search: prefix.toUpperCase() });
    assert.deepEqual(byFile.data.map((r) => r.id), [ids[0]], 'only the recording whose file name has the prefix');
    const nothing = await rtk.recordings.getRecordings(APP_ID, { ...ACC, search: uniq('absent') });
    assert.deepEqual(nothing.data, []);
    assertPaging(nothing.paging, { total_count: 0, start_offset: 0, end_offset: 0 });
  });

  it('start_time/end_time, expired and the full query of the SDK', async () => {
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    const inAnHour = new Date(Date.now() + 3600_000).toISOString();
    const { rtk: counted, requests } = sdk();
    const all = await counted.recordings.getRecordings(APP_ID, {
      ...ACC, meeting_id: meeting.id, page_no: 1, per_page: 10, expired: false, search: title, sort_by: 'invokedTime', sort_order: 'DESC',
      start_time: hourAgo, end_time: inAnHour, status: ['INVOKED', 'ERRORED'],
    });
    assert.equal(all.data.length, 3);
    const sent = new URL(requests[0].url);
    assert.equal(sent.searchParams.get('expired'), 'false');
    assert.equal(sent.searchParams.get('start_time'), hourAgo);
    const old = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, end_time: '2020-01-01T00:00:00Z' });
    assert.deepEqual(old.data, []);
    const future = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, start_time: inAnHour });
    assert.deepEqual(future.data, []);
    const expired = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: meeting.id, expired: true });
    assert.deepEqual(expired.data, [], 'nothing has an expired download URL');
    await expectError(rtk.recordings.getRecordings(APP_ID, { ...ACC, sort_by: 'fileSize' }), Cloudflare.BadRequestError, { status: 400, mentions: ['sort_by'] });
    await expectError(rtk.recordings.getRecordings(APP_ID, { ...ACC, sort_order: 'UP' }), Cloudflare.BadRequestError, { status: 400, mentions: ['sort_order'] });
  });
});

describe('recordings: startTrackRecording', () => {
  it('current shape on a meeting without a live session is a 400', async () => {
    const m = await createMeeting();
    const { rtk: counted, requests } = sdk();
    const body = { meeting_id: m.id, layers: { default: { media_kind: 'audio', file_name_prefix: 'speaker' } }, user_ids: ['user-123', 'user-456'] };
    await expectError(counted.recordings.startTrackRecording(APP_ID, { ...ACC, ...body }), Cloudflare.BadRequestError, { status: 400, mentions: ['session'] });
    assert.equal(requests.length, 1);
    assert.ok(new URL(requests[0].url).pathname.endsWith(`/accounts/${ACC.account_id}/realtime/kit/${APP_ID}/recordings/track`));
    assert.deepEqual(JSON.parse(requests[0].body), body, 'the SDK sends the body as given');
    await expectError(counted.recordings.startTrackRecording(APP_ID, { ...ACC, meeting_id: m.id }), Cloudflare.BadRequestError, { status: 400, mentions: ['session'] });
  });

  it('legacy shape (layers.default.outputs, max_seconds) on a meeting without a live session is a 400', async () => {
    const m = await createMeeting();
    const legacy = {
      ...ACC,
      meeting_id: m.id,
      layers: { default: { file_name_prefix: 'legacy', outputs: [{ type: 'REALTIMEKIT_BUCKET' }] } },
      max_seconds: 600,
    };
    await expectError(rtk.recordings.startTrackRecording(APP_ID, legacy), Cloudflare.BadRequestError, { status: 400, mentions: ['session'] });
    const legacyString = { ...legacy, max_seconds: '600' };
    await expectError(rtk.recordings.startTrackRecording(APP_ID, legacyString), Cloudflare.BadRequestError, { status: 400, mentions: ['session'] });
    // No track recording appeared.
    const list = await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: m.id });
    assert.deepEqual(list.data, []);
  });

  it('track validation and unknown meeting', async () => {
    const m = await createMeeting();
    await expectError(rtk.recordings.startTrackRecording(APP_ID, { ...ACC }), Cloudflare.BadRequestError, { status: 400, mentions: ['meeting_id'] });
    await expectError(rtk.recordings.startTrackRecording(APP_ID, { ...ACC, meeting_id: m.id, layers: { default: { file_name_prefix: 'bad prefix!' } } }),
      Cloudflare.BadRequestError, { status: 400, mentions: ['file_name_prefix'] });
    await expectError(rtk.recordings.startTrackRecording(APP_ID, { ...ACC, meeting_id: m.id, user_ids: Array.from({ length: 101 }, (_, i) => `u${i}`) }),
      Cloudflare.BadRequestError, { status: 400, mentions: ['user_ids'] });
    const unknown = randomUUID();
    await expectError(rtk.recordings.startTrackRecording(APP_ID, { ...ACC, meeting_id: unknown }), Cloudflare.NotFoundError, { status: 404, mentions: [unknown] });
  });
});
