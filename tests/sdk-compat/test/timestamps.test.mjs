// A resource's timestamps are the same string in every response: the one in the create/update response and the
// one read back later (a client comparing created_at/updated_at strings must not see a change that did not happen).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { A, ACC, APP_ID, assertEnvelope, createMeeting, rtk, uniq } from '../lib/capstan.mjs';

function assertSameStrings(written, read, fields, what) {
  for (const f of fields) {
    assert.equal(read[f], written[f], `${what}.${f}: the write response said ${written[f]}, a later read says ${read[f]}`);
  }
}

describe('timestamps are stable across responses', () => {
  it('meetings: create and PATCH responses vs getMeetingByID', async () => {
    const m = await createMeeting();
    const got = assertEnvelope(await rtk.meetings.getMeetingByID(m.id, { ...A }));
    assertSameStrings(m, got, ['created_at', 'updated_at'], 'meeting');
    const patched = assertEnvelope(await rtk.meetings.updateMeetingByID(m.id, { ...A, title: 'patched' }));
    const again = assertEnvelope(await rtk.meetings.getMeetingByID(m.id, { ...A }));
    assertSameStrings(patched, again, ['created_at', 'updated_at'], 'meeting');
  });

  it('participants: addParticipant vs getMeetingParticipant', async () => {
    const m = await createMeeting();
    const p = assertEnvelope(await rtk.meetings.addParticipant(m.id, { ...A, custom_participant_id: uniq('ts'), preset_name: 'group_call_host' }));
    const got = assertEnvelope(await rtk.meetings.getMeetingParticipant(p.id, { ...A, meeting_id: m.id }));
    assertSameStrings(p, got, ['created_at', 'updated_at'], 'participant');
  });

  it('recordings: startRecordings vs getOneRecording', async () => {
    const m = await createMeeting();
    const r = assertEnvelope(await rtk.recordings.startRecordings(APP_ID, { ...ACC, meeting_id: m.id }));
    const got = assertEnvelope(await rtk.recordings.getOneRecording(r.id, { ...A }));
    assertSameStrings(r, got, ['invoked_time'], 'recording');
  });

  it('webhooks: createWebhook vs getWebhookByID', async () => {
    const w = assertEnvelope(await rtk.webhooks.createWebhook(APP_ID, {
      ...ACC, name: uniq('ts'), url: 'https://hooks.example.com/capstan', events: ['meeting.started'],
    }));
    const got = assertEnvelope(await rtk.webhooks.getWebhookByID(w.id, { ...A }));
    assertSameStrings(w, got, ['created_at', 'updated_at'], 'webhook');
  });

  it('apps: post vs get', async () => {
    const name = uniq('ts');
    const app = assertEnvelope(await rtk.apps.post({ ...ACC, name })).app;
    const listed = (await rtk.apps.get({ ...ACC, search: name })).data[0];
    assertSameStrings(app, listed, ['created_at'], 'app');
  });
});
