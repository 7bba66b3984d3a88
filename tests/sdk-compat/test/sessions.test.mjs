// client.realtimeKit.sessions (getSessions, getSessionDetails, getSessionParticipants, getSessionParticipantDetails)
// and client.realtimeKit.activeSession (getActiveSession, kickParticipants, kickAllParticipants).
// No API creates a session without real media, so live-session data is covered by the .NET suite; here the SDK
// shapes of the empty list and of the 404s are checked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import { A, ACC, APP_ID, assertEnvelope, assertPaging, createMeeting, expectError, randomUUID, rtk, sdk } from '../lib/capstan.mjs';

describe('sessions', () => {
  it('getSessions answers data.sessions (an array) with paging', async () => {
    const res = await rtk.sessions.getSessions(APP_ID, { ...ACC });
    const data = assertEnvelope(res, { paged: true });
    assert.equal(typeof data, 'object');
    assert.ok(!Array.isArray(data), 'data is an object, not an array');
    assert.ok(Array.isArray(data.sessions), 'data.sessions is an array');
    // This server was started for the suite and nothing here can start a session (no media).
    assert.deepEqual(data.sessions, []);
    assertPaging(res.paging, { total_count: 0, start_offset: 0, end_offset: 0 });
  });

  it('getSessions filtered to a meeting without sessions is empty with zero offsets', async () => {
    const m = await createMeeting();
    const res = await rtk.sessions.getSessions(APP_ID, {
      ...ACC, associated_id: m.id, page_no: 1, per_page: 10, sort_by: 'createdAt', sort_order: 'DESC', status: 'LIVE',
    });
    assertEnvelope(res, { paged: true });
    assert.deepEqual(res.data.sessions, []);
    assertPaging(res.paging, { total_count: 0, start_offset: 0, end_offset: 0 });
    const ended = await rtk.sessions.getSessions(APP_ID, {
      ...ACC, associated_id: m.id, status: 'ENDED', sort_by: 'minutesConsumed', sort_order: 'ASC',
      start_time: new Date(Date.now() - 86400_000).toISOString(), end_time: new Date().toISOString(),
    });
    assert.deepEqual(ended.data.sessions, []);
  });

  it('getSessions rejects an invalid status filter naming it', async () => {
    await expectError(rtk.sessions.getSessions(APP_ID, { ...ACC, status: 'RUNNING' }), Cloudflare.BadRequestError, { status: 400, mentions: ['status'] });
  });

  it('session details, participants and participant details of an unknown session are 404', async () => {
    const sessionId = randomUUID();
    const { rtk: counted, requests } = sdk();
    await expectError(counted.sessions.getSessionDetails(sessionId, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [sessionId] });
    await expectError(counted.sessions.getSessionDetails(sessionId, { ...A, include_breakout_rooms: true }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(counted.sessions.getSessionParticipants(sessionId, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [sessionId] });
    await expectError(counted.sessions.getSessionParticipants(sessionId, { ...A, include_peer_events: true, view: 'raw', sort_by: 'joinedAt', sort_order: 'ASC' }),
      Cloudflare.NotFoundError, { status: 404 });
    await expectError(counted.sessions.getSessionParticipantDetails(randomUUID(), { ...A, session_id: sessionId }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(counted.sessions.getSessionParticipantDetails(randomUUID(), { ...A, session_id: sessionId, include_peer_events: true }),
      Cloudflare.NotFoundError, { status: 404 });
    assert.equal(requests.length, 6, '404s are not retried');
  });
});

describe('active session', () => {
  it('getActiveSession on a meeting with no live session is a 404', async () => {
    const m = await createMeeting();
    await expectError(rtk.activeSession.getActiveSession(m.id, { ...A }), Cloudflare.NotFoundError, { status: 404, mentions: [m.id] });
  });

  it('kickParticipants on a meeting with no live session is a 404', async () => {
    const m = await createMeeting();
    const p = assertEnvelope(await rtk.meetings.addParticipant(m.id, { ...A, custom_participant_id: 'kick-me', preset_name: 'group_call_participant' }));
    const { rtk: counted, requests } = sdk();
    await expectError(counted.activeSession.kickParticipants(m.id, { ...A, participant_ids: [p.id] }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(counted.activeSession.kickParticipants(m.id, { ...A, custom_participant_ids: ['kick-me'] }), Cloudflare.NotFoundError, { status: 404 });
    assert.equal(requests.length, 2, 'sent once each');
  });

  it('kickAllParticipants on a meeting with no live session is a 404', async () => {
    const m = await createMeeting();
    const { rtk: counted, requests } = sdk();
    await expectError(counted.activeSession.kickAllParticipants(m.id, { ...A }), Cloudflare.NotFoundError, { status: 404 });
    assert.equal(requests.length, 1);
  });

  it('active-session routes of an unknown meeting are 404', async () => {
    const id = randomUUID();
    await expectError(rtk.activeSession.getActiveSession(id, { ...A }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.activeSession.kickAllParticipants(id, { ...A }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.activeSession.kickParticipants(id, { ...A, participant_ids: [randomUUID()] }), Cloudflare.NotFoundError, { status: 404 });
  });
});
