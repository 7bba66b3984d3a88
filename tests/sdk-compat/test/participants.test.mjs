// client.realtimeKit.meetings participant methods: addParticipant, getMeetingParticipants, getMeetingParticipant,
// editParticipant, deleteMeetingParticipant, refreshParticipantToken.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import Cloudflare from 'cloudflare';
import {
  A, ACC, APP_ID, assertEnvelope, assertIso, assertPaging, assertUuid, createMeeting, decodeJwt, expectError, hasValue, randomUUID, rtk, assertSameInstant, uniq,
} from '../lib/capstan.mjs';

const DAY = 24 * 3600;

function assertParticipant(p, { withToken }) {
  assertUuid(p.id, 'participant id');
  assert.equal(typeof p.custom_participant_id, 'string');
  assert.equal(typeof p.preset_name, 'string');
  assertIso(p.created_at, 'created_at');
  assertIso(p.updated_at, 'updated_at');
  if (withToken) {
    assert.equal(typeof p.token, 'string', 'token is returned');
  } else {
    assert.ok(!('token' in p), `no token outside add/edit: ${JSON.stringify(p)}`);
  }
}

/** The token is an RS256 JWT with a kid that carries app, meeting, participant and preset, valid for 24 h. */
function assertToken(token, { meetingId, participantId, preset }) {
  const { header, payload } = decodeJwt(token);
  assert.ok(hasValue(payload, APP_ID), `the token names the app: ${JSON.stringify(payload)}`);
  assert.ok(hasValue(payload, meetingId), `the token names the meeting: ${JSON.stringify(payload)}`);
  assert.ok(hasValue(payload, participantId), `the token names the participant: ${JSON.stringify(payload)}`);
  assert.ok(hasValue(payload, preset), `the token names the preset: ${JSON.stringify(payload)}`);
  assert.ok(Number.isInteger(payload.exp), 'exp claim');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(payload.exp > now + DAY - 600 && payload.exp <= now + DAY + 600, `expires after 24 h: exp ${payload.exp}, now ${now}`);
  return { header, payload };
}

describe('participants', () => {
  let meeting;
  before(async () => {
    meeting = await createMeeting({ title: uniq('Participants') });
  });

  it('addParticipant answers 201 with a JWT token (RS256, kid)', async () => {
    const custom = uniq('user');
    const { data: res, response } = await rtk.meetings.addParticipant(meeting.id, {
      ...A, custom_participant_id: custom, preset_name: 'group_call_host', name: 'Ada Lovelace', picture: 'https://example.com/ada.png',
    }).withResponse();
    assert.equal(response.status, 201);
    const p = assertEnvelope(res);
    assertParticipant(p, { withToken: true });
    assert.equal(p.custom_participant_id, custom);
    assert.equal(p.preset_name, 'group_call_host');
    assert.equal(p.name, 'Ada Lovelace');
    assert.equal(p.picture, 'https://example.com/ada.png');
    assertToken(p.token, { meetingId: meeting.id, participantId: p.id, preset: 'group_call_host' });
  });

  it('name and picture accept null', async () => {
    const p = assertEnvelope(await rtk.meetings.addParticipant(meeting.id, {
      ...A, custom_participant_id: uniq('nulls'), preset_name: 'recorder_preset_v2', name: null, picture: null,
    }));
    assertParticipant(p, { withToken: true });
    assert.equal(p.name, null);
    assert.equal(p.picture, null);
    assertToken(p.token, { meetingId: meeting.id, participantId: p.id, preset: 'recorder_preset_v2' });
    const e = assertEnvelope(await rtk.meetings.editParticipant(p.id, { ...A, meeting_id: meeting.id, name: null, picture: null, preset_name: null }));
    assertParticipant(e, { withToken: true });
    assert.equal(e.preset_name, 'recorder_preset_v2');
  });

  it('getMeetingParticipants lists without tokens, with paging', async () => {
    const m = await createMeeting();
    const added = [];
    for (const [i, preset] of ['group_call_host', 'group_call_participant', 'recorder_preset_v2'].entries()) {
      added.push(assertEnvelope(await rtk.meetings.addParticipant(m.id, { ...A, custom_participant_id: `cp-${i}`, preset_name: preset, name: `P${i}` })));
    }
    const res = await rtk.meetings.getMeetingParticipants(m.id, { ...A });
    const data = assertEnvelope(res, { paged: true });
    assert.deepEqual(new Set(data.map((p) => p.id)), new Set(added.map((p) => p.id)));
    assertPaging(res.paging, { total_count: 3, start_offset: 1, end_offset: 3 });
    for (const p of data) {
      assertParticipant(p, { withToken: false });
    }
    assert.ok(!JSON.stringify(res).includes(added[0].token), 'no token anywhere in the list');

    const page = await rtk.meetings.getMeetingParticipants(m.id, { ...A, page_no: 2, per_page: 2 });
    assert.equal(page.data.length, 1);
    assertPaging(page.paging, { total_count: 3, start_offset: 3, end_offset: 3 });

    const empty = await rtk.meetings.getMeetingParticipants((await createMeeting()).id, { ...A });
    assert.deepEqual(empty.data, []);
    assertPaging(empty.paging, { total_count: 0, start_offset: 0, end_offset: 0 });
  });

  it('getMeetingParticipant returns one participant without token', async () => {
    const added = assertEnvelope(await rtk.meetings.addParticipant(meeting.id, { ...A, custom_participant_id: uniq('one'), preset_name: 'group_call_participant' }));
    const got = assertEnvelope(await rtk.meetings.getMeetingParticipant(added.id, { ...A, meeting_id: meeting.id }));
    assertParticipant(got, { withToken: false });
    assert.equal(got.id, added.id);
    assert.equal(got.custom_participant_id, added.custom_participant_id);
    assert.equal(got.preset_name, 'group_call_participant');
    assertSameInstant(got.created_at, added.created_at, 'created_at');
  });

  it('editParticipant changes name/picture/preset and returns a new token', async () => {
    const added = assertEnvelope(await rtk.meetings.addParticipant(meeting.id, { ...A, custom_participant_id: uniq('edit'), preset_name: 'group_call_participant', name: 'Before' }));
    const edited = assertEnvelope(await rtk.meetings.editParticipant(added.id, {
      ...A, meeting_id: meeting.id, name: 'After', picture: 'https://example.com/after.png', preset_name: 'group_call_host',
    }));
    assertParticipant(edited, { withToken: true });
    assert.equal(edited.id, added.id);
    assert.equal(edited.name, 'After');
    assert.equal(edited.picture, 'https://example.com/after.png');
    assert.equal(edited.preset_name, 'group_call_host');
    assert.equal(edited.custom_participant_id, added.custom_participant_id);
    assert.notEqual(edited.token, added.token, 'a new token');
    assertToken(edited.token, { meetingId: meeting.id, participantId: added.id, preset: 'group_call_host' });

    const got = assertEnvelope(await rtk.meetings.getMeetingParticipant(added.id, { ...A, meeting_id: meeting.id }));
    assert.equal(got.name, 'After');
    assert.equal(got.preset_name, 'group_call_host');

    // Fields not sent are kept.
    const partial = assertEnvelope(await rtk.meetings.editParticipant(added.id, { ...A, meeting_id: meeting.id, name: 'Only name' }));
    assert.equal(partial.preset_name, 'group_call_host');
    assert.equal(partial.picture, 'https://example.com/after.png');

    await expectError(rtk.meetings.editParticipant(added.id, { ...A, meeting_id: meeting.id, preset_name: 'no_such_preset' }),
      Cloudflare.BadRequestError, { status: 400, mentions: ['preset_name'] });
  });

  it('refreshParticipantToken issues a new valid token for the same participant', async () => {
    const added = assertEnvelope(await rtk.meetings.addParticipant(meeting.id, { ...A, custom_participant_id: uniq('refresh'), preset_name: 'group_call_host' }));
    const res = await rtk.meetings.refreshParticipantToken(added.id, { ...A, meeting_id: meeting.id });
    const data = assertEnvelope(res);
    assert.deepEqual(Object.keys(data), ['token']);
    assert.notEqual(data.token, added.token, 'a new token');
    const a = decodeJwt(added.token);
    const { header } = assertToken(data.token, { meetingId: meeting.id, participantId: added.id, preset: 'group_call_host' });
    assert.equal(header.kid, a.header.kid, 'the same signing key (no rotation within the run)');

    const got = assertEnvelope(await rtk.meetings.getMeetingParticipant(added.id, { ...A, meeting_id: meeting.id }));
    assert.equal(got.id, added.id, 'refresh keeps the participant');
  });

  it('deleteMeetingParticipant returns preset_id, and the participant is gone', async () => {
    const presets = assertEnvelope(await rtk.presets.get(APP_ID, { ...ACC }), { paged: true });
    const participantPreset = presets.find((p) => p.name === 'group_call_participant');
    const custom = uniq('del');
    const added = assertEnvelope(await rtk.meetings.addParticipant(meeting.id, { ...A, custom_participant_id: custom, preset_name: 'group_call_participant' }));
    const del = assertEnvelope(await rtk.meetings.deleteMeetingParticipant(added.id, { ...A, meeting_id: meeting.id }));
    assert.equal(del.custom_participant_id, custom);
    assertUuid(del.preset_id, 'preset_id');
    assert.equal(del.preset_id, participantPreset.id, 'preset_id is the id of the participant preset');
    assertIso(del.created_at, 'created_at');
    assertIso(del.updated_at, 'updated_at');
    assert.ok(!('preset_name' in del), 'the delete response names preset_id, not preset_name');
    assert.ok(!('token' in del));

    await expectError(rtk.meetings.getMeetingParticipant(added.id, { ...A, meeting_id: meeting.id }), Cloudflare.NotFoundError, { status: 404, mentions: [added.id] });
    await expectError(rtk.meetings.deleteMeetingParticipant(added.id, { ...A, meeting_id: meeting.id }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.meetings.refreshParticipantToken(added.id, { ...A, meeting_id: meeting.id }), Cloudflare.NotFoundError, { status: 404 });
    const list = await rtk.meetings.getMeetingParticipants(meeting.id, { ...A });
    assert.ok(!list.data.some((p) => p.id === added.id), 'not listed any more');
  });

  it('a participant is found only under its own meeting', async () => {
    const other = await createMeeting();
    const added = assertEnvelope(await rtk.meetings.addParticipant(meeting.id, { ...A, custom_participant_id: uniq('x'), preset_name: 'group_call_host' }));
    await expectError(rtk.meetings.getMeetingParticipant(added.id, { ...A, meeting_id: other.id }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.meetings.editParticipant(added.id, { ...A, meeting_id: other.id, name: 'x' }), Cloudflare.NotFoundError, { status: 404 });
  });

  it('validation and unknown meetings', async () => {
    await expectError(rtk.meetings.addParticipant(meeting.id, { ...A, preset_name: 'group_call_host' }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['custom_participant_id'] });
    await expectError(rtk.meetings.addParticipant(meeting.id, { ...A, custom_participant_id: 'u1' }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['preset_name'] });
    await expectError(rtk.meetings.addParticipant(meeting.id, { ...A, custom_participant_id: 'u1', preset_name: 'webinar_presenter' }), Cloudflare.BadRequestError,
      { status: 400, mentions: ['preset_name'] });
    await expectError(rtk.meetings.addParticipant(meeting.id, { ...A, custom_participant_id: 'u1', preset_name: 'group_call_host', picture: 'not a url' }),
      Cloudflare.BadRequestError, { status: 400, mentions: ['picture'] });
    const unknown = randomUUID();
    await expectError(rtk.meetings.addParticipant(unknown, { ...A, custom_participant_id: 'u1', preset_name: 'group_call_host' }), Cloudflare.NotFoundError,
      { status: 404, mentions: [unknown] });
    await expectError(rtk.meetings.getMeetingParticipants(unknown, { ...A }), Cloudflare.NotFoundError, { status: 404 });
    await expectError(rtk.meetings.getMeetingParticipant(randomUUID(), { ...A, meeting_id: meeting.id }), Cloudflare.NotFoundError, { status: 404 });
  });
});
