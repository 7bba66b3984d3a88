// Capstan meeting page. /meeting?authToken=<participant token>[&iceTransportPolicy=relay]
// iceTransportPolicy=relay (for tests and diagnostics) makes this participant use only the TURN server's relay.
// Participants join at once, publish camera and microphone, and see everyone else in a grid with names.
// A token of the recorder_preset_v2 preset opens the recorder view: hidden (publishes nothing), subscribed to
// every publisher, all audio played, videos in a 16:9 grid, and window.capstanRecorder.ready for the recorder.
//
// Screen sharing: a participant whose preset allows it (the join answer's can_share_screen: group_call_host and
// group_call_participant, not recorder_preset_v2) shares with the "Share screen" button or the page API:
//   window.capstanMeeting.shareScreen(stream?)  shares `stream` (any MediaStream, e.g. canvas.captureStream()) or,
//       without one, what the browser's picker (getDisplayMedia) offers, with its audio when it has an audio track.
//       Resolves when the share is published; rejects with an Error whose message says why not (preset, someone
//       else sharing: at most max_screenshare_count shares per meeting, not joined, picker cancelled).
//   window.capstanMeeting.stopScreenShare()    stops this participant's share (resolves when it is unpublished).
//   window.capstanMeeting.state()              -> { joined, publishing, sharing, video, listening }.
//   window.capstanMeeting.setVideo(on)         turns this participant's camera off (false) or on again (true), as the
//       "Stop video" button does; resolves once Janus has taken the new offer.
// Camera off: the publisher renegotiates with its video m-line inactive (the track is removed and the camera
// released), rather than only disabling the track (muteVideo), which would keep black frames flowing. Janus then
// marks that stream `disabled: true` in the publisher lists it sends every participant, the recorder view and the
// native compositor's room handle alike, so all of them learn it from one place, with no message of our own; the
// audio m-line is untouched and keeps playing. Everyone shows a camera-off tile (class `cameraoff`: the neutral
// --off colour, the initial centred, the name at the bottom left) in the same place; turning the camera on
// renegotiates the same m-line back to sendonly, and the video returns to that tile. A publisher that never
// offered video has no video stream at all, so the recorder view still gives it no tile.
//
// Broadcast messages (every page of the meeting, the recorder's included, receives the others' messages):
//   window.capstanMeeting.broadcastMessage(type, payload)  sends `payload` (any JSON value, at most 16 KiB
//       serialized) to the meeting's live session; resolves with the message as kept by the server
//       ({ id, session_id, type, payload, participant_id, peer_id, received_at }); rejects with an Error saying why
//       (too large, no live session, not a participant). Type "ID3Data" is an interactive recording's timed metadata,
//       "CLOSE_TRANSPORT" ends it.
//   window.capstanMeeting.on("broadcast", handler)         calls handler(message) for every message another page or
//       the REST API (POST .../meetings/{id}/broadcast) sends; returns a function that removes the handler.
// They arrive as server-sent events from /meeting-api/broadcasts (see MeetingPageApi.cs for why); `listening` in
// state() is true once that stream is open.
// The share is its own Janus feed (a second publisher handle; see ScreenShares.cs for why), under a feed id and a
// JSON display ({"screenshare":true,"participant_id":...,"name":...}) the server grants. With a share the shared
// screen fills SHARE_WIDTH of the stage's width (at least 75%) and the participants are thumbnails in a column
// beside it, in the participants' view and in the recorder view alike; without one, the grid.
//
// Active speaker: Janus tells every publisher handle of the room when a publisher starts and stops talking (the
// room's audiolevel_event; thresholds and the rule in ActiveSpeaker.cs). The active speaker is whoever started
// talking last, while they talk and for SPEAKER_HOLD_MS after they stop; then whoever else still talks and started
// last, or nobody. Their tile is outlined (.tile.speaking, a 4 px #ffcc00 ring inside the tile's edge) and, with a
// screen share, their thumbnail is the first of the column. A share's sound is not a speaker.
/* global Janus */
(function () {
  'use strict';

  const params = new URLSearchParams(location.search);
  const token = params.get('authToken');
  const forceRelay = params.get('iceTransportPolicy') === 'relay';
  const stage = document.getElementById('stage');
  const notice = document.getElementById('notice');
  const controls = document.getElementById('controls');
  const t0 = performance.now();

  // What tests and the recorder read.
  const state = window.capstanState = {
    phase: 'loading', error: null, joined: false, published: false, recorder: false, publishers: [], left: false, kicked: false, ended: false,
    firstRemoteFrameMs: null, joinedMs: null, relay: forceRelay,
    // The active speaker's name, when it last changed (ms since load); the last talking/stopped-talking events.
    speaker: null, speakerMs: null, talkEvents: [],
    listening: false, broadcastsReceived: 0,
  };
  window.capstanRecorder = { ready: false, participants: 0, error: null };

  let janus = null;
  let pub = null; // publisher handle (also used, without publishing, by the recorder)
  let sub = null; // one multistream subscriber handle
  let join = null; // the server's join answer
  let subscribing = false;
  const pendingStreams = []; // streams to subscribe to once the subscriber handle exists
  const feeds = new Map(); // feed id -> { display, streams: [{mid, type}] }
  const midToFeed = new Map(); // subscriber mid -> feed id
  const tiles = new Map(); // feed id (or 'self') -> tile element
  let finished = false;
  let share = null; // this participant's screen share: { feedId, display, handle, stream, ownStream, published }
  let events = null; // the broadcast messages' EventSource
  const broadcastHandlers = [];
  // This page's id for the broadcast stream: the server does not echo the page's own messages back to it.
  const clientId = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Math.random()).slice(2) + String(Date.now());
  let videoOn = true; // this participant's camera (see setVideo)
  let videoChange = null; // the camera renegotiation in flight: { resolve, reject }
  const SHARE_WIDTH = 0.8; // of the stage's width, for the shared screen(s) when any is shared
  const SPEAKER_HOLD_MS = 2000; // ActiveSpeaker.Hold
  const talk = new Map(); // feed id -> { started, stopped } (performance.now() times) of feeds Janus said talk
  let speaker = null; // the tile key ('self' or a feed id) of the active speaker
  let speakerTimer = null;

  function show(message, detail) {
    notice.hidden = false;
    notice.innerHTML = '';
    const strong = document.createElement('div');
    strong.textContent = message;
    if (detail) {
      const d = document.createElement('span');
      d.className = 'detail';
      d.textContent = detail;
      strong.appendChild(d);
    }
    notice.appendChild(strong);
  }

  function fail(message, detail) {
    state.phase = 'error';
    state.error = message;
    window.capstanRecorder.error = message;
    show(message, detail);
    controls.hidden = true;
  }

  function end(kind, message) {
    if (finished) return;
    finished = true;
    state[kind] = true;
    if (events) { events.close(); events = null; state.listening = false; }
    state.phase = kind;
    try { if (janus) janus.destroy({ unload: true }); } catch (e) { /* already gone */ }
    stage.innerHTML = '';
    tiles.clear();
    controls.hidden = true;
    if (!state.recorder) show(message);
  }

  // ---- layout: the largest 16:9 tiles that fit the stage, rows centred -------------------------------------------------
  // With a screen share: the share(s) stacked in the left SHARE_WIDTH, the others as 16:9 thumbnails in a column on
  // the right, as large as the column and the height allow, centred vertically.
  function place(el, x, y, w, h) {
    el.style.left = `${Math.floor(x)}px`;
    el.style.top = `${Math.floor(y)}px`;
    el.style.width = `${Math.floor(w)}px`;
    el.style.height = `${Math.floor(h)}px`;
  }

  function layout() {
    const n = stage.children.length;
    if (n === 0) return;
    const gap = state.recorder ? 4 : 8;
    const pad = state.recorder ? 4 : 8;
    const W = stage.clientWidth - 2 * pad, H = stage.clientHeight - 2 * pad;
    const all = [...stage.children];
    const outlined = speaker === null ? null : tiles.get(speaker) || null;
    for (const el of all) el.classList.toggle('speaking', el === outlined);
    const shares = all.filter((el) => el.classList.contains('share'));
    stage.classList.toggle('sharing', shares.length > 0);
    if (shares.length) {
      // The active speaker's thumbnail first.
      const others = all.filter((el) => !el.classList.contains('share')).sort((a, b) => (b === outlined) - (a === outlined));
      const mainW = others.length ? Math.floor(W * SHARE_WIDTH) : W;
      const shareH = (H - gap * (shares.length - 1)) / shares.length;
      shares.forEach((el, i) => place(el, pad, pad + i * (shareH + gap), mainW, shareH));
      if (others.length) {
        const colW = W - mainW - gap;
        const th = Math.min(colW * 9 / 16, (H - gap * (others.length - 1)) / others.length), tw = th * 16 / 9;
        let y = pad + (H - (others.length * th + gap * (others.length - 1))) / 2;
        for (const el of others) {
          place(el, pad + mainW + gap + (colW - tw) / 2, y, tw, th);
          y += th + gap;
        }
      }
      return;
    }
    for (const el of all) el.style.left = el.style.top = el.style.height = '';
    let best = { cols: 1, w: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = Math.min((W - gap * (cols - 1)) / cols, ((H - gap * (rows - 1)) / rows) * 16 / 9);
      if (w > best.w) best = { cols, w };
    }
    for (const el of stage.children) el.style.width = `${Math.floor(best.w)}px`;
  }
  window.addEventListener('resize', layout);

  function tile(key, display, self, isShare) {
    let el = tiles.get(key);
    if (!el) {
      el = document.createElement('div');
      el.className = 'tile novideo' + (self ? ' self' : '') + (isShare ? ' share' : '');
      el.dataset.feed = String(key);
      const video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true; // audio plays through its own <audio> element
      const avatar = document.createElement('div');
      avatar.className = 'avatar';
      const name = document.createElement('div');
      name.className = 'name';
      el.append(video, avatar, name);
      stage.appendChild(el);
      tiles.set(key, el);
    }
    el.querySelector('.name').textContent = display;
    el.querySelector('.avatar').textContent = (display || '?').trim().charAt(0).toUpperCase();
    layout();
    return el;
  }

  function removeTile(key) {
    const el = tiles.get(key);
    if (!el) return;
    el.querySelectorAll('audio').forEach((a) => { a.srcObject = null; a.remove(); });
    el.remove();
    tiles.delete(key);
    layout();
    updateRecorder();
  }

  function updateRecorder() {
    state.publishers = [...feeds.values()].map((f) => f.display);
    window.capstanRecorder.participants = feeds.size;
    if (!state.recorder || !state.joined) return;
    // Ready once joined and every publisher's video (if it sends one) shows a frame.
    const waiting = [...feeds.entries()].some(([id, f]) => {
      if (!f.streams.some((s) => s.type === 'video')) return false;
      const el = tiles.get(id);
      const v = el && el.querySelector('video');
      return !v || v.videoWidth === 0;
    });
    window.capstanRecorder.ready = !waiting;
  }

  // ---- the server's join call -----------------------------------------------------------------------------
  async function joinMeeting() {
    if (!token) {
      fail('This meeting link has no token.', 'Open the link you were given, which ends in ?authToken=...');
      return;
    }
    let res;
    try {
      res = await fetch('/meeting-api/join', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth_token: token }),
      });
    } catch (e) {
      fail('Cannot reach the meeting server.', String(e));
      return;
    }
    const body = await res.json().catch(() => null);
    if (!res.ok || !body || !body.success) {
      const message = body && body.error ? body.error.message : `The meeting server answered ${res.status}.`;
      fail(message);
      return;
    }
    join = body.data;
    listenBroadcasts();
    if (forceRelay && !(join.ice_servers || []).length) {
      fail('This link asks for a relayed connection, but the server has no TURN server (Turn:Urls).');
      return;
    }
    state.recorder = join.recorder;
    document.body.classList.toggle('recorder', join.recorder);
    document.title = join.meeting_title || 'Capstan meeting';
    document.getElementById('title').textContent = join.meeting_title || '';
    document.getElementById('share').hidden = !join.can_share_screen;
    Janus.init({ debug: false, dependencies: Janus.useDefaultDependencies(), callback: connect });
  }

  function connect() {
    janus = new Janus({
      server: new URL(join.janus_path, location.href).href,
      iceServers: join.ice_servers || [],
      iceTransportPolicy: forceRelay ? 'relay' : 'all',
      success: attachPublisher,
      error: (e) => { if (!finished) fail('The connection to the meeting was lost.', String(e)); },
      destroyed: () => { if (!finished) end('left', 'You left the meeting.'); },
    });
  }

  function attachPublisher() {
    janus.attach({
      plugin: 'janus.plugin.videoroom',
      opaqueId: 'capstan-' + join.participant_id,
      success: (handle) => {
        pub = handle;
        pub.send({ message: { request: 'join', ptype: 'publisher', room: join.room, pin: join.pin, id: join.feed_id, display: join.display_name } });
      },
      error: (e) => fail('Could not join the meeting room.', String(e)),
      onmessage: onPublisherMessage,
      // Publishing: the camera and microphone reach the room (the others, and a recorder that joins now, see them).
      webrtcState: (on) => { state.published = !!on && !state.recorder; },
      onlocaltrack: (track, on) => {
        if (track.kind !== 'video') return;
        const el = tile('self', 'You', true);
        const video = el.querySelector('video');
        if (on) {
          video.srcObject = new MediaStream([track]);
          el.classList.remove('novideo');
        } else {
          el.classList.add('novideo');
        }
      },
    });
  }

  function onPublisherMessage(msg, jsep) {
    const ev = msg.videoroom;
    if (msg.error && videoChange) {
      settleVideo(new Error('The meeting room refused the camera change: ' + msg.error));
      return;
    }
    if (msg.error) {
      fail('The meeting room refused to let you in.', msg.error);
      return;
    }
    if (ev === 'joined') {
      state.joined = true;
      state.joinedMs = Math.round(performance.now() - t0);
      state.phase = 'joined';
      notice.hidden = true;
      if (!state.recorder) {
        controls.hidden = false;
        publish();
      }
      addPublishers(msg.publishers || []);
      updateRecorder();
    } else if (ev === 'event') {
      if (msg.publishers) addPublishers(msg.publishers);
      if (msg.configured === 'ok' && jsep && videoChange) {
        pub.handleRemoteJsep({ jsep });
        settleVideo(null);
        return;
      }
      // A publisher kicked from the room is announced to the others as { kicked: id } (a kicked participant's camera
      // and screen share feeds both are).
      const gone = msg.leaving || msg.unpublished || msg.kicked;
      if (gone === 'ok') {
        if (msg.reason === 'kicked') end('kicked', 'You were removed from the meeting.');
        return;
      }
      if (gone) removePublisher(gone);
    } else if (ev === 'talking' || ev === 'stopped-talking') {
      onTalk(msg.id, ev === 'talking', msg['audio-level-dBov-avg']);
    } else if (ev === 'destroyed') {
      end('ended', 'The meeting has ended.');
    }
    if (jsep && pub) pub.handleRemoteJsep({ jsep });
  }

  // ---- the active speaker -----------------------------------------------------------------------------------------
  function onTalk(id, talking, level) {
    state.talkEvents.push({ id, talking, level, ms: Math.round(performance.now() - t0) });
    if (state.talkEvents.length > 50) state.talkEvents.shift();
    const info = feeds.get(id);
    if (id !== join.feed_id && (!info || info.share)) return; // unknown yet, or a screen share's sound
    const now = performance.now();
    if (talking) talk.set(id, { started: now, stopped: null });
    else if (talk.has(id) && talk.get(id).stopped === null) talk.get(id).stopped = now;
    updateSpeaker();
  }

  function updateSpeaker() {
    clearTimeout(speakerTimer);
    const now = performance.now();
    let best = null, next = null;
    for (const [id, t] of [...talk.entries()]) {
      if (t.stopped !== null && now - t.stopped >= SPEAKER_HOLD_MS) { talk.delete(id); continue; }
      if (t.stopped !== null && (next === null || t.stopped + SPEAKER_HOLD_MS < next)) next = t.stopped + SPEAKER_HOLD_MS;
      if (best === null || t.started > talk.get(best).started) best = id;
    }
    const key = best === null ? null : (best === join.feed_id ? 'self' : best);
    if (key !== speaker) {
      speaker = key;
      state.speaker = key === null ? null : (key === 'self' ? join.display_name : (feeds.get(key) || {}).display || null);
      state.speakerMs = Math.round(now - t0);
      layout();
    }
    if (next !== null) speakerTimer = setTimeout(updateSpeaker, next - now + 5);
  }

  function publish() {
    pub.createOffer({
      tracks: [
        { type: 'audio', capture: true, recv: false },
        { type: 'video', capture: { width: 640, height: 360 }, recv: false },
      ],
      success: (jsep) => pub.send({ message: { request: 'configure', audio: true, video: true }, jsep }),
      error: (e) => {
        // No camera or microphone: stay in the meeting, receiving only.
        show('Your camera or microphone is not available.', String(e && e.message ? e.message : e));
        setTimeout(() => { notice.hidden = true; }, 4000);
      },
    });
  }

  // ---- receiving: one multistream subscription for every publisher ------------------------------------------
  function addPublishers(list) {
    const streams = [];
    for (const p of list) {
      if (p.id === join.feed_id || p.dummy || (share && p.id === share.feedId)) continue;
      const media = (p.streams || []).filter((s) => !s.disabled && (s.type === 'audio' || s.type === 'video'));
      const known = feeds.get(p.id);
      const of = shareOf(p.display);
      const display = of ? `${of.name || 'Participant'} (screen)` : (p.display || 'Participant');
      const cameraOff = cameraOffOf(p, !!of);
      const subscribed = known ? known.subscribed : new Set();
      feeds.set(p.id, { display, streams: media, share: !!of, cameraOff, subscribed });
      if (!state.recorder || media.some((s) => s.type === 'video') || cameraOff) showCameraOff(tile(p.id, display, false, !!of), cameraOff);
      // Streams not subscribed yet: all of a new publisher's, and a video that was off when it joined.
      for (const s of media) {
        if (subscribed.has(s.mid)) continue;
        subscribed.add(s.mid);
        streams.push({ feed: p.id, mid: s.mid });
      }
      // Who was already talking when this page joined (the joined answer's list says; later, the events do).
      if (!known && !of && p.talking === true && !talk.has(p.id)) talk.set(p.id, { started: performance.now(), stopped: null });
    }
    if (talk.size) updateSpeaker();
    if (streams.length) subscribe(streams);
    updateRecorder();
  }

  // The camera-off tile goes at once; when the camera is back it stays until the video presents a new frame (3 s at
  // most), so the tile goes from the name to the picture without the frozen or black frames in between.
  function showCameraOff(el, off) {
    if (off) {
      el.classList.add('cameraoff');
      el.dataset.offSince = String(performance.now());
      return;
    }
    if (!el.classList.contains('cameraoff')) return;
    uncoverWhenLit(el, el.querySelector('video'), () => true);
  }

  // Takes the camera-off tile away at the first shown frame that is not black (a camera starting again sends a
  // black frame or two first: measured, one in a browser recording in 1 run of 3), or after 3 s whatever it shows
  // (a dark room). `still` says whether the tile should still go when the frame comes.
  function uncoverWhenLit(el, video, still) {
    const since = el.dataset.offSince;
    const start = performance.now();
    const uncover = () => { if (el.dataset.offSince === since && still()) el.classList.remove('cameraoff'); };
    setTimeout(uncover, 3000);
    if (!video.requestVideoFrameCallback) { uncover(); return; }
    const probe = document.createElement('canvas');
    probe.width = 8; probe.height = 8;
    const lit = () => {
      try {
        const g = probe.getContext('2d', { willReadFrequently: true });
        g.drawImage(video, 0, 0, 8, 8);
        const d = g.getImageData(0, 0, 8, 8).data;
        let sum = 0;
        for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
        return sum / 64 > 30; // mean R+G+B: black is ~0-6, a picture well above 30
      } catch (e) {
        return true;
      }
    };
    const frame = () => {
      if (el.dataset.offSince !== since || !el.classList.contains('cameraoff')) return;
      if (lit() || performance.now() - start > 3000) uncover(); else video.requestVideoFrameCallback(frame);
    };
    video.requestVideoFrameCallback(frame);
  }

  // A camera turned off: the publisher's video stream is listed as disabled (see setVideo) and none is live.
  function cameraOffOf(p, isShare) {
    const video = (p.streams || []).filter((s) => s.type === 'video');
    return !isShare && video.some((s) => s.disabled) && !video.some((s) => !s.disabled);
  }

  // A publisher whose display is the server's share marker ({"screenshare":true,...}) is a screen share.
  function shareOf(display) {
    if (!display || display[0] !== '{') return null;
    try {
      const o = JSON.parse(display);
      return o && o.screenshare === true ? o : null;
    } catch (e) {
      return null;
    }
  }

  function removePublisher(id) {
    feeds.delete(id);
    if (talk.delete(id)) updateSpeaker();
    for (const [mid, feed] of [...midToFeed.entries()]) if (feed === id) midToFeed.delete(mid);
    removeTile(id);
    if (sub) sub.send({ message: { request: 'unsubscribe', streams: [{ feed: id }] } });
  }

  function subscribe(streams) {
    if (sub) {
      sub.send({ message: { request: 'subscribe', streams } });
      return;
    }
    if (subscribing) {
      // The subscriber handle is being attached: queue these for its join.
      pendingStreams.push(...streams);
      return;
    }
    subscribing = true;
    pendingStreams.push(...streams);
    janus.attach({
      plugin: 'janus.plugin.videoroom',
      opaqueId: 'capstan-sub-' + join.participant_id,
      success: (handle) => {
        sub = handle;
        const first = pendingStreams.splice(0);
        // use_msid: each publisher's sound and picture share an msid stream of their own ("janus" + its id), so the
        // browser lip-syncs every participant; without it every stream is in the one stream "janus", and a browser
        // pairs one audio with one video of that group only.
        sub.send({ message: { request: 'join', ptype: 'subscriber', room: join.room, pin: join.pin, use_msid: true, streams: first } });
      },
      error: (e) => fail('Could not receive the other participants.', String(e)),
      onmessage: (msg, jsep) => {
        if (msg.streams) {
          for (const s of msg.streams) if (s.feed_id) midToFeed.set(s.mid, s.feed_id);
        }
        if (jsep) {
          sub.createAnswer({
            jsep,
            tracks: [{ type: 'data' }],
            success: (answer) => sub.send({ message: { request: 'start' }, jsep: answer }),
            error: (e) => fail('Could not receive the other participants.', String(e)),
          });
        }
      },
      onremotetrack: (track, mid, on) => {
        const feed = midToFeed.get(mid);
        if (feed === undefined) return;
        if (on && state.recorder) holdPlayout(track);
        const info = feeds.get(feed);
        if (!info) return;
        if (track.kind === 'video') {
          const el = tile(feed, info.display, false, info.share);
          const video = el.querySelector('video');
          if (on) {
            // The same track back (a camera turned on again keeps its subscription): left playing, since a new
            // srcObject restarts the element, black until its first frame, which the recording would show.
            const current = video.srcObject && video.srcObject.getVideoTracks()[0];
            if (current !== track) {
              video.srcObject = new MediaStream([track]);
              // A camera back on a new track: its camera-off tile stays until this track's first frame is shown.
              const back = () => !(feeds.get(feed) || {}).cameraOff;
              if (el.classList.contains('cameraoff') && back()) uncoverWhenLit(el, video, back);
            }
            el.classList.remove('novideo');
            const firstFrame = () => {
              if (state.firstRemoteFrameMs === null) state.firstRemoteFrameMs = Math.round(performance.now() - t0);
              updateRecorder();
            };
            if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(firstFrame);
            video.addEventListener('loadeddata', firstFrame, { once: true });
            video.play().catch(() => {});
          } else {
            el.classList.add('novideo');
          }
        } else if (track.kind === 'audio') {
          const host = tiles.get(feed) || document.body;
          let audio = host.querySelector(`audio[data-mid="${mid}"]`);
          if (on) {
            if (!audio) {
              audio = document.createElement('audio');
              audio.dataset.mid = mid;
              audio.autoplay = true;
              host.appendChild(audio);
            }
            audio.srcObject = new MediaStream([track]);
            audio.play().catch(() => {});
          } else if (audio) {
            audio.srcObject = null;
            audio.remove();
          }
        }
        updateRecorder();
      },
    });
  }

  // The recorder plays every stream at one fixed, generous delay: the jitter buffers of sound and picture aim at the
  // same target, so their lip sync has little left to correct and sound is not sped up or slowed down to chase a
  // changing one (a participant's view wants low latency; a recording does not).
  const RECORDER_PLAYOUT_MS = 400;
  function holdPlayout(track) {
    const pc = sub && sub.webrtcStuff && sub.webrtcStuff.pc;
    if (!pc) return;
    for (const r of pc.getReceivers()) {
      if (r.track !== track) continue;
      if ('jitterBufferTarget' in r) r.jitterBufferTarget = RECORDER_PLAYOUT_MS;
      else if ('playoutDelayHint' in r) r.playoutDelayHint = RECORDER_PLAYOUT_MS / 1000;
    }
  }

  // ---- screen sharing ----------------------------------------------------------------------------------------------
  async function shareRequest(action) {
    const res = await fetch('/meeting-api/screenshare', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth_token: token, action }),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok || !body || !body.success) {
      throw new Error(body && body.error ? body.error.message : `The meeting server answered ${res.status}.`);
    }
    return body.data;
  }

  function setShareButton() {
    const b = document.getElementById('share');
    b.setAttribute('aria-pressed', String(!!share));
    b.textContent = share ? 'Stop sharing' : 'Share screen';
  }

  async function shareScreen(given) {
    if (!join || !state.joined || finished) throw new Error('Not in the meeting: screen sharing starts once you have joined.');
    if (state.recorder || !join.can_share_screen) {
      throw new Error(`Screen sharing is not allowed for your preset (${join.preset_name}).`);
    }
    if (share) throw new Error('You are already sharing your screen.');
    if (given !== undefined && given !== null && !(given instanceof MediaStream)) throw new Error('shareScreen(stream): stream must be a MediaStream.');
    const mine = { feedId: 0, display: '', handle: null, stream: null, ownStream: !given, published: false };
    share = mine; // held from here, so a second call waits for no one and gets 'already sharing'
    setShareButton();
    try {
      const grant = await shareRequest('start');
      mine.feedId = grant.feed_id;
      mine.display = grant.display;
      mine.stream = given || await navigator.mediaDevices.getDisplayMedia({ video: true, audio: true });
      const video = mine.stream.getVideoTracks()[0];
      if (!video) throw new Error('The stream to share has no video track.');
      await publishShare(mine, video, mine.stream.getAudioTracks()[0]);
      video.addEventListener('ended', () => { if (share === mine) stopScreenShare(); });
      const el = tile('self-share', 'You (screen)', false, true);
      el.querySelector('video').srcObject = new MediaStream([video]);
      el.classList.remove('novideo');
      layout();
      return undefined;
    } catch (e) {
      await teardownShare(mine);
      throw e instanceof Error ? e : new Error(String(e));
    }
  }

  // The share's own publisher handle: joins the room under the granted feed id and display, publishes the video
  // (and the audio, if the stream has any), and resolves once Janus has answered and the connection is up.
  function publishShare(mine, video, audio) {
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err) => {
        if (settled) return;
        settled = true;
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      };
      const timer = setTimeout(() => done(new Error('The screen share could not be published in time.')), 20000);
      janus.attach({
        plugin: 'janus.plugin.videoroom',
        opaqueId: 'capstan-share-' + join.participant_id,
        success: (handle) => {
          mine.handle = handle;
          handle.send({ message: { request: 'join', ptype: 'publisher', room: join.room, pin: join.pin, id: mine.feedId, display: mine.display } });
        },
        error: (e) => done(new Error('Could not open the screen share: ' + e)),
        onmessage: (msg, jsep) => {
          if (msg.error) {
            done(new Error('The meeting room refused the screen share: ' + msg.error));
            return;
          }
          if (msg.videoroom === 'joined') {
            const tracks = [{ type: 'video', capture: video, recv: false, dontStop: !mine.ownStream }];
            if (audio) tracks.push({ type: 'audio', capture: audio, recv: false, dontStop: !mine.ownStream });
            mine.handle.createOffer({
              tracks,
              success: (offer) => mine.handle.send({ message: { request: 'configure', audio: !!audio, video: true }, jsep: offer }),
              error: (e) => done(new Error('Could not publish the screen share: ' + (e && e.message ? e.message : e))),
            });
          }
          if (jsep) mine.handle.handleRemoteJsep({ jsep });
        },
        webrtcState: (on) => {
          if (on) {
            mine.published = true;
            clearTimeout(timer);
            done();
          } else if (share === mine && mine.published) {
            stopScreenShare();
          }
        },
      });
    });
  }

  async function teardownShare(mine) {
    if (share === mine) share = null;
    setShareButton();
    removeTile('self-share');
    if (mine.handle) {
      try { mine.handle.send({ message: { request: 'leave' } }); } catch (e) { /* session gone */ }
      await new Promise((r) => mine.handle.detach({ success: r, error: r }));
      mine.handle = null;
    }
    if (mine.ownStream && mine.stream) mine.stream.getTracks().forEach((t) => t.stop());
    if (mine.feedId) await shareRequest('stop').catch(() => {});
  }

  async function stopScreenShare() {
    if (!share) return;
    await teardownShare(share);
  }

  // Leaving or closing the page: give the share slot back at once (keepalive outlives the page), rather than after
  // the server's grace for a share that stopped publishing.
  function releaseShareOnExit() {
    if (!share || !share.feedId) return;
    share = null;
    fetch('/meeting-api/screenshare', {
      method: 'POST', keepalive: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth_token: token, action: 'stop' }),
    }).catch(() => {});
  }

  // ---- broadcast messages ----------------------------------------------------------------------------------------
  function listenBroadcasts() {
    if (events || finished) return;
    events = new EventSource('/meeting-api/broadcasts?auth_token=' + encodeURIComponent(token) + '&client_id=' + encodeURIComponent(clientId));
    events.addEventListener('ready', () => { state.listening = true; });
    events.addEventListener('broadcast', (e) => {
      let message;
      try { message = JSON.parse(e.data); } catch (err) { return; }
      state.broadcastsReceived += 1;
      for (const h of broadcastHandlers.slice()) {
        try { h(message); } catch (err) { console.error('broadcast handler failed', err); }
      }
    });
    // EventSource reconnects by itself; until it has, the page is not listening.
    events.onerror = () => { state.listening = false; };
  }

  async function broadcastMessage(type, payload) {
    if (typeof type !== 'string' || !type) throw new Error('broadcastMessage needs a type, e.g. "ID3Data".');
    const res = await fetch('/meeting-api/broadcast', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth_token: token, client_id: clientId, type, payload: payload === undefined ? null : payload }),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok || !body || !body.success) {
      throw new Error(body && body.error ? body.error.message : `The meeting server answered ${res.status}.`);
    }
    return body.data;
  }

  function on(name, handler) {
    if (name !== 'broadcast') throw new Error(`Unknown event "${name}": only "broadcast" is supported.`);
    if (typeof handler !== 'function') throw new Error('on("broadcast", handler) needs a function.');
    broadcastHandlers.push(handler);
    return () => { const i = broadcastHandlers.indexOf(handler); if (i >= 0) broadcastHandlers.splice(i, 1); };
  }

  window.capstanMeeting = {
    shareScreen: (stream) => shareScreen(stream),
    stopScreenShare: () => stopScreenShare(),
    broadcastMessage: (type, payload) => broadcastMessage(type, payload),
    on: (name, handler) => on(name, handler),
    state: () => ({ joined: state.joined && !finished, publishing: state.published, sharing: !!(share && share.published), video: videoOn, listening: !!state.listening }),
    setVideo: (on) => setVideo(on),
  };

  // ---- camera off and on (see the header) ------------------------------------------------------------------------
  function settleVideo(err) {
    const change = videoChange;
    videoChange = null;
    if (!change) return;
    if (err) change.reject(err instanceof Error ? err : new Error(String(err)));
    else change.resolve();
  }

  function setVideo(on) {
    on = !!on;
    if (!pub || !state.joined || finished || state.recorder) return Promise.reject(new Error('Not publishing in the meeting.'));
    if (videoChange) return Promise.reject(new Error('The camera is already being turned ' + (videoOn ? 'off.' : 'on.')));
    if (on === videoOn) return Promise.resolve();
    const pc = pub.webrtcStuff && pub.webrtcStuff.pc;
    const transceiver = pc && pc.getTransceivers().find((t) => t.receiver.track && t.receiver.track.kind === 'video');
    if (!transceiver) return Promise.reject(new Error('This participant publishes no video.'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settleVideo(new Error('Janus did not answer the camera change in time.')), 15000);
      const done = (err) => { clearTimeout(timer); settleVideo(err); };
      videoChange = { resolve: () => { clearTimeout(timer); videoOn = on; setCamButton(); resolve(); }, reject: (e) => { clearTimeout(timer); reject(e); } };
      const track = on
        ? { type: 'video', mid: transceiver.mid, capture: { width: 640, height: 360 }, recv: false, replace: true }
        : { type: 'video', mid: transceiver.mid, remove: true };
      pub.createOffer({
        tracks: [track],
        success: (jsep) => pub.send({ message: { request: 'configure' }, jsep, error: done }),
        error: (e) => done(new Error('Could not turn the camera ' + (on ? 'on: ' : 'off: ') + (e && e.message ? e.message : e))),
      });
    });
  }

  function setCamButton() {
    const b = document.getElementById('cam');
    b.setAttribute('aria-pressed', String(!videoOn));
    b.textContent = videoOn ? 'Stop video' : 'Start video';
    const self = tiles.get('self');
    if (self) self.classList.toggle('cameraoff', !videoOn);
  }

  // ---- controls ------------------------------------------------------------------------------------------------
  document.getElementById('mic').addEventListener('click', (e) => {
    if (!pub) return;
    const muted = pub.isAudioMuted();
    if (muted) pub.unmuteAudio(); else pub.muteAudio();
    e.target.setAttribute('aria-pressed', String(!muted));
    e.target.textContent = muted ? 'Mute' : 'Unmute';
  });
  document.getElementById('cam').addEventListener('click', () => {
    setVideo(!videoOn).catch((e) => {
      show('Your camera could not be switched.', e.message);
      setTimeout(() => { if (!finished && state.phase !== 'error') notice.hidden = true; }, 4000);
    });
  });
  document.getElementById('share').addEventListener('click', () => {
    const action = share ? stopScreenShare() : shareScreen();
    action.catch((e) => {
      show('Your screen could not be shared.', e.message);
      setTimeout(() => { if (!finished && state.phase !== 'error') notice.hidden = true; }, 4000);
    });
  });
  document.getElementById('leave').addEventListener('click', () => window.capstanLeave());

  // Leave: tell the room, hang up, close the Janus session.
  window.capstanLeave = function () {
    state.phase = 'leaving';
    releaseShareOnExit();
    if (pub) pub.send({ message: { request: 'leave' } });
    setTimeout(() => end('left', 'You left the meeting.'), 100);
  };
  window.addEventListener('pagehide', () => {
    releaseShareOnExit();
    if (janus && !finished) janus.destroy({ unload: true });
  });

  // ---- stats for tests and diagnostics -----------------------------------------------------------------------
  // The candidate types of each connection's selected pair: { publisher: {local, remote}, subscriber: {...} }.
  window.capstanCandidates = async function () {
    async function selected(handle) {
      const pc = handle && handle.webrtcStuff && handle.webrtcStuff.pc;
      if (!pc) return null;
      const stats = await pc.getStats();
      let pair = null;
      stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId); });
      if (!pair) stats.forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r; });
      if (!pair) return null;
      const local = stats.get(pair.localCandidateId) || {}, remote = stats.get(pair.remoteCandidateId) || {};
      return { local: local.candidateType, remote: remote.candidateType, localAddress: local.address, relayProtocol: local.relayProtocol, bytesSent: pair.bytesSent };
    }
    return { publisher: await selected(pub), subscriber: await selected(sub) };
  };

  // The tracks this participant sends (camera, microphone), for probes of what the source itself holds.
  window.capstanLocalTracks = function () {
    const pc = pub && pub.webrtcStuff && pub.webrtcStuff.pc;
    return pc ? pc.getSenders().map((s) => s.track).filter((t) => t) : [];
  };
  window.capstanStats = async function () {
    const out = { framesDecoded: {}, audioPackets: {}, framesSent: 0 };
    const pc = sub && sub.webrtcStuff && sub.webrtcStuff.pc;
    if (pc) {
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type !== 'inbound-rtp') return;
        const feed = midToFeed.get(r.mid);
        const name = (feeds.get(feed) || {}).display || String(feed);
        if (r.kind === 'video') out.framesDecoded[name] = r.framesDecoded || 0;
        if (r.kind === 'audio') out.audioPackets[name] = r.packetsReceived || 0;
      });
    }
    const ppc = pub && pub.webrtcStuff && pub.webrtcStuff.pc;
    if (ppc) {
      const stats = await ppc.getStats();
      stats.forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'video') out.framesSent += r.framesSent || 0; });
    }
    return out;
  };

  joinMeeting();
})();
