// Response fields that the SDK 7.3.0 types declare optional but not nullable (`title?: string`,
// `recording_config?: RecordingConfig`, `storage_config.host?: string`, ...) must be omitted when unset, not sent
// as null: TypeScript callers are told such a field is either absent or of its type. The only nullable response
// fields in the types are listed below (grep '| null' in node_modules/cloudflare/resources/realtime-kit/*.d.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { A, ACC, APP_ID, assertEnvelope, createMeeting, rtk, uniq } from '../lib/capstan.mjs';

const MEETING_NULLABLE = new Set(['storage_config']);
const PARTICIPANT_NULLABLE = new Set(['name', 'picture']);
const RECORDING_NULLABLE = new Set([
  'audio_download_url', 'download_url', 'download_url_expiry', 'file_size', 'session_id', 'started_time', 'stopped_time', 'storage_config',
]);

/** The paths of `value` holding null at a key not in `nullable`. */
function nullsOutside(value, nullable) {
  const offending = [];
  (function walk(v, path) {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        if (x === null) {
          if (!nullable.has(k)) {
            offending.push(p);
          }
        } else {
          walk(x, p);
        }
      }
    }
  })(value, '');
  return offending;
}

/** Collects the offending paths of several responses and fails once, listing them all. */
function nullChecker() {
  const problems = [];
  return {
    check(value, nullable, what) {
      const offending = nullsOutside(value, nullable);
      if (offending.length) {
        problems.push(`${what}: ${offending.join(', ')}`);
      }
      return value;
    },
    done() {
      assert.deepEqual(problems, [], `null where the SDK type says optional, not nullable:\n${problems.join('\n')}`);
    },
  };
}

describe('no null where the SDK types say optional (not nullable)', () => {
  it('meetings without title, recording_config or ai_config', async () => {
    const n = nullChecker();
    const created = await rtk.meetings.create(APP_ID, { ...ACC });
    n.check(created, MEETING_NULLABLE, 'meetings.create');
    const id = created.data.id;
    n.check(await rtk.meetings.getMeetingByID(id, { ...A }), MEETING_NULLABLE, 'meetings.getMeetingByID');
    n.check(await rtk.meetings.get(APP_ID, { ...ACC, search: id }), MEETING_NULLABLE, 'meetings.get');
    n.check(await rtk.meetings.updateMeetingByID(id, { ...A, persist_chat: true }), MEETING_NULLABLE, 'meetings.updateMeetingByID');
    n.check(await rtk.meetings.replaceMeetingByID(id, { ...A }), MEETING_NULLABLE, 'meetings.replaceMeetingByID');
    n.done();
  });

  it('meetings with a partial recording_config and ai_config', async () => {
    const n = nullChecker();
    const res = await rtk.meetings.create(APP_ID, {
      ...ACC,
      title: uniq('Partial'),
      recording_config: { file_name_prefix: 'partial', storage_config: { type: 'aws', access_key: 'a', secret: 's', bucket: 'b', region: 'us-east-1' } },
      ai_config: { transcription: { language: 'de' } },
    });
    n.check(res, MEETING_NULLABLE, 'meetings.create');
    n.check(await rtk.meetings.getMeetingByID(res.data.id, { ...A }), MEETING_NULLABLE, 'meetings.getMeetingByID');
    n.done();
  });

  it('recordings (start, getOne, active, list with meeting)', async () => {
    const n = nullChecker();
    const m = await createMeeting();
    const started = await rtk.recordings.startRecordings(APP_ID, {
      ...ACC, meeting_id: m.id, storage_config: { type: 'aws', access_key: 'a', secret: 's', bucket: 'b', region: 'us-east-1' },
    });
    n.check(started, RECORDING_NULLABLE, 'recordings.startRecordings');
    const id = started.data.id;
    n.check(await rtk.recordings.getOneRecording(id, { ...A }), RECORDING_NULLABLE, 'recordings.getOneRecording');
    n.check(await rtk.recordings.getActiveRecordings(m.id, { ...A }), RECORDING_NULLABLE, 'recordings.getActiveRecordings');
    n.check(await rtk.recordings.getRecordings(APP_ID, { ...ACC, meeting_id: m.id }), RECORDING_NULLABLE, 'recordings.getRecordings');
    n.check(await rtk.recordings.pauseResumeStopRecording(id, { ...A, action: 'stop' }), RECORDING_NULLABLE, 'recordings.pauseResumeStopRecording');
    n.done();
  });

  it('participants, webhooks, presets and apps', async () => {
    const n = nullChecker();
    const m = await createMeeting();
    const p = await rtk.meetings.addParticipant(m.id, { ...A, custom_participant_id: uniq('n'), preset_name: 'group_call_host' });
    n.check(p, PARTICIPANT_NULLABLE, 'meetings.addParticipant');
    n.check(await rtk.meetings.getMeetingParticipants(m.id, { ...A }), PARTICIPANT_NULLABLE, 'meetings.getMeetingParticipants');
    const none = new Set();
    const w = await rtk.webhooks.createWebhook(APP_ID, { ...ACC, name: uniq('n'), url: 'https://hooks.example.com/capstan', events: ['meeting.ended'] });
    n.check(w, none, 'webhooks.createWebhook');
    n.check(await rtk.webhooks.getWebhooks(APP_ID, { ...ACC }), none, 'webhooks.getWebhooks');
    const presets = await rtk.presets.get(APP_ID, { ...ACC });
    n.check(presets, none, 'presets.get');
    n.check(await rtk.presets.getPresetByID(assertEnvelope(presets)[0].id, { ...A }), new Set(['livestream_viewer_qualities']), 'presets.getPresetByID');
    n.check(await rtk.apps.get({ ...ACC }), none, 'apps.get');
    n.done();
  });
});
