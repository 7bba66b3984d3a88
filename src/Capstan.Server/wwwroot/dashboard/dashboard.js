// Capstan dashboard (/dashboard). Plain JavaScript, no build step, no external resources.
// Signs in with an API token (kept in sessionStorage, sent only to this server as `Authorization: Bearer`),
// finds its account with GET /client/v4/user/tokens/verify, and then uses the public RealtimeKit-compatible API
// only: apps, meetings, sessions, recordings. Every API string reaches the page through textContent or
// setAttribute (never parsed as HTML), and links only through safeUrl (http and https).
(function () {
  'use strict';

  const API = '/client/v4';
  const TOKEN_KEY = 'capstan.dashboard.token';
  const APP_KEY = 'capstan.dashboard.app';
  const REFRESH_MS = 3000;
  const STATUSES = ['INVOKED', 'RECORDING', 'PAUSED', 'UPLOADING', 'UPLOADED', 'ERRORED'];
  const ACTIVE = ['INVOKED', 'RECORDING', 'PAUSED'];
  const PER_PAGE = [20, 50, 100];

  const $ = (id) => document.getElementById(id);
  const session = { token: null, account: null, apps: [], app: null };
  let current = null; // { name, view }
  let refreshing = false;
  let refreshAgain = false; // a refresh was asked for while one was running
  let refreshError = false;
  let generation = 0; // bumps on every view change and app change; stale answers are dropped

  // ---------------------------------------------------------------------------------------------- DOM helpers

  /** Builds an element. Strings and numbers become text nodes; attributes go through setAttribute. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function replace(el, ...children) {
    el.replaceChildren();
    return append(el, children);
  }

  /** Only http(s) URLs become links; anything else (javascript:, data:) is dropped. */
  function safeUrl(u) {
    if (typeof u !== 'string' || u === '') return null;
    try {
      const url = new URL(u, location.href);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch {
      return null;
    }
  }

  function badge(status) {
    return h('span', { class: 'badge s-' + String(status).replace(/[^A-Z_]/g, ''), dataset: { status: String(status) } }, String(status));
  }

  function empty(title, detail) {
    return h('div', { class: 'empty' }, h('strong', null, title), detail || null);
  }

  // ---------------------------------------------------------------------------------------------- formatting

  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const timeFmt = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
  const numFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  function when(iso) {
    if (!iso) return h('span', { class: 'muted' }, '—');
    const d = new Date(iso);
    return h('time', { datetime: iso, title: iso, class: 'nowrap' }, isNaN(d) ? iso : dateFmt.format(d));
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    const s = Math.max(0, Math.round(seconds));
    const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    const two = (n) => String(n).padStart(2, '0');
    return hh > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
  }

  function bytes(n) {
    if (n === null || n === undefined) return '—';
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let v = Number(n), i = 0;
    while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return i === 0 ? `${v} B` : `${numFmt.format(v)} ${units[i]}`;
  }

  function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

  function extensionOf(name) {
    const m = /\.([a-z0-9]+)$/i.exec(name || '');
    return m ? m[1].toLowerCase() : '';
  }

  // ---------------------------------------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
    get plain() { return this.status ? `${this.message} (HTTP ${this.status})` : this.message; }
  }

  /** Calls the API; a failure becomes an ApiError carrying the error envelope's message as sent. */
  async function api(method, path, body, token) {
    const headers = { Accept: 'application/json', Authorization: 'Bearer ' + (token || session.token) };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new ApiError(0, 'Cannot reach the Capstan server (' + (e && e.message ? e.message : 'network error') + ')');
    }
    let json = null;
    try { json = await res.json(); } catch { json = null; }
    if (!res.ok || !json || json.success !== true) {
      const message = json && json.error && typeof json.error.message === 'string' ? json.error.message : `the server answered ${res.status} ${res.statusText}`.trim();
      throw new ApiError(res.status, message);
    }
    return json;
  }

  const kit = (path) => `/accounts/${encodeURIComponent(session.account)}/realtime/kit/${encodeURIComponent(session.app)}${path}`;

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === null || v === undefined || v === '') continue;
      q.set(k, String(v));
    }
    const s = q.toString();
    return s ? '?' + s : '';
  }

  /** Active session of a meeting, or null (404). */
  async function activeSession(meetingId) {
    try {
      return (await api('GET', kit(`/meetings/${encodeURIComponent(meetingId)}/active-session`))).data;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------------------- messages

  function showBanner(message, fromRefresh) {
    refreshError = !!fromRefresh;
    $('banner-text').textContent = message;
    $('banner').hidden = false;
  }

  function hideBanner() {
    $('banner').hidden = true;
    refreshError = false;
  }

  let toastTimer = null;
  function toast(message) {
    const t = $('toast');
    t.textContent = message;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  /** Runs a user action with its button disabled; errors go to the banner, prefixed with what failed. */
  async function act(button, what, fn) {
    if (button) button.disabled = true;
    try {
      const result = await fn();
      hideBanner();
      return result;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return signOut('Your API token is no longer valid. Sign in again.');
      showBanner(`${what}: ${e instanceof ApiError ? e.plain : e}`);
      return undefined;
    } finally {
      if (button) button.disabled = false;
      refreshNow();
    }
  }

  async function recordingAction(button, rec, action) {
    const ok = await act(button, `Could not ${action} the recording`, () =>
      api('PUT', kit(`/recordings/${encodeURIComponent(rec.id)}`), { action }));
    if (ok) toast(action === 'stop' ? 'Recording stopped: the file is being uploaded' : action === 'pause' ? 'Recording paused' : 'Recording resumed');
  }

  /** Pause / Resume / Stop buttons for an active recording. */
  function controlsFor(rec) {
    if (!ACTIVE.includes(rec.status)) return [];
    const buttons = [];
    if (rec.status === 'RECORDING') buttons.push(h('button', { type: 'button', class: 'small', onclick: (e) => { e.stopPropagation(); recordingAction(e.currentTarget, rec, 'pause'); } }, 'Pause'));
    if (rec.status === 'PAUSED') buttons.push(h('button', { type: 'button', class: 'small', onclick: (e) => { e.stopPropagation(); recordingAction(e.currentTarget, rec, 'resume'); } }, 'Resume'));
    buttons.push(h('button', { type: 'button', class: 'small danger', onclick: (e) => { e.stopPropagation(); recordingAction(e.currentTarget, rec, 'stop'); } }, 'Stop'));
    return buttons;
  }

  async function startRecording(button, meetingId, options) {
    const body = { meeting_id: meetingId };
    if (options) {
      body.video_config = { codec: options.codec, width: options.width, height: options.height };
    }
    const res = await act(button, 'Could not start the recording', () => api('POST', kit('/recordings'), body));
    if (res) toast('Recording started: the recorder is joining the meeting');
    return res;
  }

  /** Adds a host participant and opens the meeting page in a new tab (opened at once, so no popup blocker). */
  async function joinMeeting(button, meetingId) {
    const tab = window.open('about:blank', '_blank');
    const res = await act(button, 'Could not join the meeting', () => api('POST', kit(`/meetings/${encodeURIComponent(meetingId)}/participants`), {
      custom_participant_id: 'dashboard-' + Math.random().toString(16).slice(2, 10),
      preset_name: 'group_call_host',
      name: 'Dashboard',
    }));
    if (!res) { if (tab) tab.close(); return; }
    const url = '/meeting?authToken=' + encodeURIComponent(res.data.token);
    if (tab) { tab.opener = null; tab.location.href = url; } else { location.href = url; }
  }

  // ---------------------------------------------------------------------------------------------- meetings list

  function meetingsView() {
    const search = h('input', { id: 'meeting-search', type: 'search', placeholder: 'Title or meeting id', autocomplete: 'off' });
    const status = h('select', { id: 'meeting-status' }, h('option', { value: '' }, 'All'), h('option', { value: 'ACTIVE' }, 'ACTIVE'), h('option', { value: 'INACTIVE' }, 'INACTIVE'));
    const title = h('input', { id: 'new-meeting-title', type: 'text', placeholder: 'Title', maxlength: 256 });
    const create = h('button', { type: 'submit', class: 'primary' }, 'New meeting');
    const tbody = h('tbody', null, h('tr', { class: 'loading-row' }, h('td', { colspan: 6 }, 'Loading meetings…')));
    const pager = h('div', { class: 'pager' });
    let page = 1, signature = '';
    let timer = null;

    const root = h('section', { 'aria-labelledby': 'meetings-h' },
      h('div', { class: 'page-head' },
        h('div', { class: 'grow' }, h('h1', { id: 'meetings-h' }, 'Meetings'), h('div', { class: 'muted' }, 'Live sessions and recordings refresh every few seconds.')),
        h('form', { class: 'form-row', onsubmit: async (e) => {
          e.preventDefault();
          const res = await act(create, 'Could not create the meeting', () => api('POST', kit('/meetings'), { title: title.value.trim() || null }));
          if (res) { title.value = ''; toast('Meeting created'); }
        } }, h('div', { class: 'field' }, h('label', { for: 'new-meeting-title' }, 'New meeting title'), title), create)),
      h('div', { class: 'toolbar' },
        h('div', { class: 'field' }, h('label', { for: 'meeting-search' }, 'Search'), search),
        h('div', { class: 'field' }, h('label', { for: 'meeting-status' }, 'Status'), status)),
      h('div', { class: 'table-wrap' }, h('table', { id: 'meetings-table' },
        h('thead', null, h('tr', null, h('th', null, 'Meeting'), h('th', null, 'Status'), h('th', null, 'Live session'), h('th', null, 'Recording'), h('th', null, 'Created'), h('th', null, h('span', { class: 'muted' }, '')))),
        tbody)),
      pager);

    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { page = 1; refreshNow(); }, 250); });
    status.addEventListener('change', () => { page = 1; refreshNow(); });

    async function refresh() {
      const [meetings, live, active] = await Promise.all([
        api('GET', kit('/meetings' + query({ page_no: page, per_page: 20, search: search.value.trim(), status: status.value }))),
        api('GET', kit('/sessions' + query({ status: 'LIVE', per_page: 100 }))),
        api('GET', kit('/recordings' + query({ status: ACTIVE.join(','), per_page: 100 }))),
      ]);
      const sessions = new Map();
      for (const s of (live.data && live.data.sessions) || []) sessions.set(s.associated_id, s);
      const recordings = new Map();
      for (const r of active.data || []) if (!recordings.has(r.meeting_id)) recordings.set(r.meeting_id, r);
      const sig = JSON.stringify([meetings, [...sessions.values()].map((s) => [s.id, s.live_participants]), active.data.map((r) => [r.id, r.status])]);
      if (sig === signature) return;
      signature = sig;
      if (!meetings.data.length) {
        replace(tbody, h('tr', null, h('td', { colspan: 6 }, search.value || status.value
          ? empty('No meetings match these filters.', 'Clear the search or the status filter.')
          : empty('No meetings yet.', 'Create one above, or with POST …/meetings.'))));
      } else {
        replace(tbody, meetings.data.map((m) => meetingRow(m, sessions.get(m.id), recordings.get(m.id))));
      }
      renderPager(pager, meetings.paging, page, (p) => { page = p; signature = ''; refreshNow(); });
    }

    return { root, refresh, focus: search };
  }

  function meetingRow(m, live, rec) {
    const href = '#/meetings/' + encodeURIComponent(m.id);
    const join = h('button', { type: 'button', class: 'small', title: 'Join as a host in a new tab', onclick: (e) => { e.stopPropagation(); joinMeeting(e.currentTarget, m.id); } }, 'Join');
    const actions = [join];
    if (rec) actions.push(...controlsFor(rec));
    else if (live) actions.push(h('button', { type: 'button', class: 'small primary', onclick: (e) => { e.stopPropagation(); startRecording(e.currentTarget, m.id); } }, 'Start recording'));
    return h('tr', { class: 'clickable', dataset: { id: m.id }, onclick: () => { location.hash = href; } },
      h('td', null, h('a', { class: 'cell-title', href, onclick: (e) => e.stopPropagation() }, m.title || 'Untitled meeting'), h('div', { class: 'cell-sub' }, m.id)),
      h('td', null, badge(m.status)),
      h('td', { class: 'live', dataset: { liveParticipants: live ? String(live.live_participants) : '0' } },
        live ? [badge('LIVE'), ' ', plural(live.live_participants, 'participant', 'participants')] : h('span', { class: 'muted' }, 'No live session')),
      h('td', null, rec ? h('a', { href: '#/recordings/' + encodeURIComponent(rec.id), onclick: (e) => e.stopPropagation() }, badge(rec.status)) : h('span', { class: 'muted' }, '—')),
      h('td', null, when(m.created_at)),
      h('td', { class: 'actions' }, actions));
  }

  function renderPager(pager, paging, page, go) {
    const total = paging ? paging.total_count : 0;
    if (!total) { replace(pager); return; }
    const prev = h('button', { type: 'button', class: 'small', disabled: paging.start_offset <= 1, onclick: () => go(page - 1) }, 'Previous');
    const next = h('button', { type: 'button', class: 'small', disabled: paging.end_offset >= total, onclick: () => go(page + 1) }, 'Next');
    replace(pager, h('span', { id: 'paging-text' }, `${paging.start_offset}–${paging.end_offset} of ${total}`), prev, next);
  }

  // ---------------------------------------------------------------------------------------------- meeting detail

  function meetingView(id) {
    const heading = h('h1', { id: 'meeting-h' }, 'Meeting');
    const statusSlot = h('span');
    const liveCard = h('div', { class: 'card', id: 'live-card' }, h('h2', null, 'Live session'), h('p', { class: 'muted' }, 'Loading…'));
    const recordCard = h('div', { class: 'card', id: 'record-card' }, h('h2', null, 'Record'), h('p', { class: 'muted' }, 'Loading…'));
    const factsCard = h('div', { class: 'card' }, h('h2', null, 'Details'));
    const recTbody = h('tbody');
    const allLink = h('a', { href: '#/recordings?meeting=' + encodeURIComponent(id) }, 'All recordings of this meeting →');
    const codec = h('select', { id: 'start-codec' }, h('option', { value: 'H264' }, 'MP4 (H.264, AAC)'), h('option', { value: 'VP8' }, 'WebM (VP8, Vorbis)'));
    const size = h('select', { id: 'start-size' }, h('option', { value: '1280x720' }, '1280 × 720'), h('option', { value: '640x360' }, '640 × 360'), h('option', { value: '1920x1080' }, '1920 × 1080'));
    let signature = '';

    const root = h('section', { 'aria-labelledby': 'meeting-h' },
      h('div', { class: 'crumbs' }, h('a', { href: '#/meetings' }, 'Meetings'), ' / ', h('span', { class: 'mono' }, id)),
      h('div', { class: 'page-head' }, h('div', { class: 'grow' }, heading), statusSlot,
        h('button', { type: 'button', onclick: (e) => joinMeeting(e.currentTarget, id) }, 'Join meeting')),
      h('div', { class: 'grid-2' },
        h('div', { class: 'stack' }, liveCard,
          h('div', { class: 'card' }, h('h2', null, 'Recent recordings'),
            h('div', { class: 'table-wrap' }, h('table', { id: 'meeting-recordings' }, recordingsHead(false), recTbody)),
            h('p', { class: 'small' }, allLink))),
        h('div', { class: 'stack' }, recordCard, factsCard)));

    async function refresh() {
      const [meeting, live, recent, active] = await Promise.all([
        api('GET', kit('/meetings/' + encodeURIComponent(id))),
        activeSession(id),
        api('GET', kit('/recordings' + query({ meeting_id: id, per_page: 10 }))),
        api('GET', kit('/recordings' + query({ meeting_id: id, status: ACTIVE.join(','), per_page: 10 }))),
      ]);
      const people = live ? (await api('GET', kit(`/sessions/${encodeURIComponent(live.id)}/participants` + query({ per_page: 100 })))).data.participants.filter((p) => !p.left_at) : [];
      const sig = JSON.stringify([meeting.data, live, people.map((p) => p.id), recent.data, active.data]);
      if (sig === signature) return;
      signature = sig;
      const m = meeting.data;
      heading.textContent = m.title || 'Untitled meeting';
      document.title = (m.title || 'Meeting') + ' · Capstan';
      replace(statusSlot, badge(m.status));

      if (live) {
        replace(liveCard, h('h2', null, 'Live session'),
          h('p', { dataset: { liveParticipants: String(live.live_participants) } }, badge('LIVE'), ' ', plural(live.live_participants, 'participant', 'participants'), h('span', { class: 'muted' }, ' · started '), when(live.started_at)),
          people.length ? h('ul', { class: 'people' }, people.map((p) => h('li', null, h('span', null, p.display_name || p.custom_participant_id || p.id), h('span', { class: 'muted small' }, p.preset_name || '')))) : null);
      } else {
        replace(liveCard, h('h2', null, 'Live session'), empty('No live session.', 'A session starts when the first participant joins. Use “Join meeting” to open it.'));
      }

      const rec = active.data[0];
      if (rec) {
        replace(recordCard, h('h2', null, 'Record'),
          h('p', null, h('a', { href: '#/recordings/' + encodeURIComponent(rec.id) }, badge(rec.status)), ' ', h('span', { class: 'muted' }, 'since '), when(rec.started_time || rec.invoked_time)),
          h('div', { class: 'row-actions' }, controlsFor(rec)));
      } else {
        const start = h('button', { type: 'button', class: 'primary', id: 'start-recording', disabled: !live || m.status !== 'ACTIVE' }, 'Start recording');
        start.addEventListener('click', () => {
          const [w, hgt] = size.value.split('x').map(Number);
          startRecording(start, id, { codec: codec.value, width: w, height: hgt });
        });
        replace(recordCard, h('h2', null, 'Record'),
          h('div', { class: 'form-row' },
            h('div', { class: 'field' }, h('label', { for: 'start-codec' }, 'Format'), codec),
            h('div', { class: 'field' }, h('label', { for: 'start-size' }, 'Size'), size), start),
          m.status !== 'ACTIVE' ? h('p', { class: 'muted small' }, 'An INACTIVE meeting cannot be recorded.')
            : !live ? h('p', { class: 'muted small' }, 'Recording needs a live session: someone has to be in the meeting.') : null);
      }

      replace(factsCard, h('h2', null, 'Details'), h('dl', { class: 'facts' },
        h('dt', null, 'Meeting id'), h('dd', { class: 'mono' }, m.id),
        h('dt', null, 'Created'), h('dd', null, when(m.created_at)),
        h('dt', null, 'Record on start'), h('dd', null, m.record_on_start ? 'yes' : 'no'),
        h('dt', null, 'Keep-alive'), h('dd', null, m.session_keep_alive_time_in_secs !== undefined ? `${m.session_keep_alive_time_in_secs} s after the last person leaves` : '—')));

      replace(recTbody, recent.data.length ? recent.data.map((r) => recordingRow(r, false)) : h('tr', null, h('td', { colspan: 7 }, empty('No recordings of this meeting yet.'))));
    }

    return { root, refresh };
  }

  // ---------------------------------------------------------------------------------------------- recordings list

  function recordingsHead(withMeeting) {
    return h('thead', null, h('tr', null,
      h('th', null, 'Status'), withMeeting ? h('th', null, 'Meeting') : null, h('th', null, 'File'), h('th', null, 'Started'),
      h('th', { class: 'num' }, 'Duration'), h('th', { class: 'num' }, 'Size'), h('th', null, h('span', { class: 'muted' }, ''))));
  }

  function recordingRow(r, withMeeting) {
    const href = '#/recordings/' + encodeURIComponent(r.id);
    const url = typeof r.download_url === 'string' ? safeUrl(r.download_url) : null;
    const actions = controlsFor(r);
    if (r.status === 'UPLOADED' && url) actions.push(h('a', { class: 'button-link small', href: url, download: r.output_file_name || '', onclick: (e) => e.stopPropagation() }, 'Download'));
    const finished = r.status === 'UPLOADED' || r.status === 'UPLOADING' || r.status === 'ERRORED';
    return h('tr', { class: 'clickable', dataset: { id: r.id, status: r.status }, onclick: () => { location.hash = href; } },
      h('td', null, badge(r.status), r.type === 'TRACK' ? h('span', { class: 'muted small' }, ' track') : null),
      withMeeting ? h('td', null, r.meeting ? h('div', { class: 'cell-title truncate' }, r.meeting.title || 'Untitled meeting') : null, h('div', { class: 'cell-sub' }, r.meeting_id || '')) : null,
      h('td', null, h('a', { class: 'truncate', href, title: r.output_file_name, onclick: (e) => e.stopPropagation() }, r.output_file_name || r.id)),
      h('td', null, when(r.started_time || r.invoked_time)),
      h('td', { class: 'num duration', dataset: { seconds: String(r.recording_duration ?? '') } }, r.status === 'ERRORED' && !r.recording_duration ? h('span', { class: 'muted' }, '—') : finished ? duration(r.recording_duration) : h('span', { class: 'muted' }, ACTIVE.includes(r.status) ? 'in progress' : '—')),
      h('td', { class: 'num size', dataset: { bytes: r.file_size === null || r.file_size === undefined ? '' : String(r.file_size) }, title: r.file_size ? `${r.file_size} bytes` : null }, bytes(r.file_size)),
      h('td', { class: 'actions' }, actions));
  }

  /** Day (yyyy-mm-dd, local) to the ISO instant where it starts, or where the next day starts minus 1 ms. */
  function dayToIso(day, endOfDay) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || '');
    if (!m) return null;
    const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + (endOfDay ? 1 : 0));
    return new Date(d.getTime() - (endOfDay ? 1 : 0)).toISOString();
  }

  function recordingsView(params) {
    const search = h('input', { id: 'rec-search', type: 'search', placeholder: 'Meeting id, title or file name', autocomplete: 'off' });
    const status = h('select', { id: 'rec-status' }, h('option', { value: '' }, 'All statuses'), h('option', { value: ACTIVE.join(','), title: 'INVOKED, RECORDING or PAUSED' }, 'Active'), STATUSES.map((s) => h('option', { value: s }, s)));
    const meeting = h('select', { id: 'rec-meeting' }, h('option', { value: '' }, 'All meetings'));
    const from = h('input', { id: 'rec-from', type: 'date' });
    const to = h('input', { id: 'rec-to', type: 'date' });
    const order = h('select', { id: 'rec-order' }, h('option', { value: 'DESC' }, 'Newest first'), h('option', { value: 'ASC' }, 'Oldest first'));
    // The API's expired filter: download links past their expiry (7 days after upload) or not.
    const links = h('select', { id: 'rec-links' }, h('option', { value: '' }, 'Any'), h('option', { value: 'false' }, 'Not expired'), h('option', { value: 'true' }, 'Expired'));
    const perPage = h('select', { id: 'rec-per-page' }, PER_PAGE.map((n) => h('option', { value: String(n) }, `${n} per page`)));
    const clear = h('button', { type: 'button', class: 'ghost', id: 'rec-clear' }, 'Clear filters');
    const tbody = h('tbody', null, h('tr', { class: 'loading-row' }, h('td', { colspan: 7 }, 'Loading recordings…')));
    const pager = h('div', { class: 'pager' });
    const summary = h('div', { class: 'muted', id: 'rec-summary' });
    let page = 1, signature = '', meetingsLoaded = false, timer = null;

    const root = h('section', { 'aria-labelledby': 'recordings-h' },
      h('div', { class: 'page-head' }, h('div', { class: 'grow' }, h('h1', { id: 'recordings-h' }, 'Recordings'), summary)),
      h('div', { class: 'toolbar', role: 'search' },
        h('div', { class: 'field' }, h('label', { for: 'rec-search' }, 'Search'), search),
        h('div', { class: 'field' }, h('label', { for: 'rec-status' }, 'Status'), status),
        h('div', { class: 'field' }, h('label', { for: 'rec-meeting' }, 'Meeting'), meeting),
        h('div', { class: 'field' }, h('label', { for: 'rec-from' }, 'From'), from),
        h('div', { class: 'field' }, h('label', { for: 'rec-to' }, 'To'), to),
        h('div', { class: 'field' }, h('label', { for: 'rec-links' }, 'Links'), links),
        h('div', { class: 'field' }, h('label', { for: 'rec-order' }, 'Order'), order),
        h('div', { class: 'spacer' }), clear),
      h('div', { class: 'table-wrap' }, h('table', { id: 'recordings-table' }, recordingsHead(true), tbody)),
      h('div', { class: 'pager' }, perPage, pager));

    function fromControls() {
      return { search: search.value.trim(), status: status.value, meeting: meeting.value, from: from.value, to: to.value, expired: links.value, order: order.value === 'ASC' ? 'ASC' : '', per_page: perPage.value === '20' ? '' : perPage.value, page: page > 1 ? String(page) : '' };
    }

    function toControls(p) {
      search.value = p.search || '';
      status.value = [...status.options].some((o) => o.value === (p.status || '')) ? (p.status || '') : '';
      if (p.meeting && ![...meeting.options].some((o) => o.value === p.meeting)) meeting.append(h('option', { value: p.meeting }, p.meeting));
      meeting.value = p.meeting || '';
      from.value = p.from || '';
      to.value = p.to || '';
      links.value = p.expired === 'true' || p.expired === 'false' ? p.expired : '';
      order.value = p.order === 'ASC' ? 'ASC' : 'DESC';
      perPage.value = PER_PAGE.includes(Number(p.per_page)) ? String(Number(p.per_page)) : '20';
      page = Math.max(1, Number(p.page) || 1);
      clear.hidden = !(p.search || p.status || p.meeting || p.from || p.to || p.expired);
    }

    /** The filters live in the URL (#/recordings?status=UPLOADED&...), so a filtered list can be linked and Back works. */
    function commit(replaceEntry) {
      const p = fromControls();
      const q = query(p);
      const hash = '#/recordings' + q;
      if (location.hash !== hash) history[replaceEntry ? 'replaceState' : 'pushState'](null, '', hash);
      clear.hidden = !(p.search || p.status || p.meeting || p.from || p.to || p.expired);
      signature = '';
      refreshNow();
    }

    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { page = 1; commit(true); }, 250); });
    for (const c of [status, meeting, from, to, links, order, perPage]) c.addEventListener('change', () => { page = 1; commit(false); });
    clear.addEventListener('click', () => { search.value = ''; status.value = ''; meeting.value = ''; from.value = ''; to.value = ''; links.value = ''; page = 1; commit(false); });
    toControls(params);

    async function loadMeetings() {
      const res = await api('GET', kit('/meetings' + query({ per_page: 100 })));
      const chosen = meeting.value;
      replace(meeting, h('option', { value: '' }, 'All meetings'), res.data.map((m) => h('option', { value: m.id }, (m.title || 'Untitled meeting') + ' · ' + m.id.slice(0, 8))));
      if (chosen && ![...meeting.options].some((o) => o.value === chosen)) meeting.append(h('option', { value: chosen }, chosen));
      meeting.value = chosen;
      meetingsLoaded = true;
    }

    async function refresh() {
      if (!meetingsLoaded) await loadMeetings();
      const p = fromControls();
      const res = await api('GET', kit('/recordings' + query({
        page_no: page, per_page: perPage.value, search: p.search, status: p.status, meeting_id: p.meeting,
        start_time: dayToIso(p.from, false), end_time: dayToIso(p.to, true), expired: p.expired, sort_order: order.value,
      })));
      const sig = JSON.stringify(res);
      if (sig === signature) return;
      signature = sig;
      const filtered = p.search || p.status || p.meeting || p.from || p.to || p.expired;
      summary.textContent = res.paging.total_count === 0 ? '' : `${plural(res.paging.total_count, 'recording', 'recordings')}${filtered ? ' match these filters' : ''}.`;
      if (!res.data.length) {
        replace(tbody, h('tr', null, h('td', { colspan: 7 }, filtered
          ? empty('No recordings match these filters.', 'Change or clear the filters.')
          : empty('No recordings yet.', 'Start one from a meeting with a live session.'))));
      } else {
        replace(tbody, res.data.map((r) => recordingRow(r, true)));
      }
      renderPager(pager, res.paging, page, (n) => { page = n; commit(false); });
    }

    return { root, refresh, update: (p) => { toControls(p); signature = ''; }, focus: search };
  }

  // ---------------------------------------------------------------------------------------------- recording detail

  function recordingView(id) {
    const heading = h('h1', { id: 'recording-h', class: 'truncate' }, 'Recording');
    const statusSlot = h('span', { id: 'recording-status' });
    const player = h('div', { class: 'card player', id: 'player-card' }, h('div', { class: 'player-note' }, 'Loading…'));
    const actions = h('div', { class: 'row-actions', id: 'recording-actions' });
    const facts = h('dl', { class: 'facts', id: 'recording-facts' });
    let playerKey = null, meetingTitle = null, signature = '';

    const root = h('section', { 'aria-labelledby': 'recording-h' },
      h('div', { class: 'crumbs' }, h('a', { href: '#/recordings' }, 'Recordings'), ' / ', h('span', { class: 'mono' }, id)),
      h('div', { class: 'page-head' }, h('div', { class: 'grow' }, heading), statusSlot, actions),
      h('div', { class: 'grid-2' }, player, h('div', { class: 'card' }, h('h2', null, 'Details'), facts)));

    function mediaFor(url, name, kind) {
      const ext = extensionOf(name) || extensionOf(new URL(url).pathname);
      const audio = kind === 'audio' || ['mp3', 'm4a', 'aac', 'ogg', 'oga', 'opus', 'wav'].includes(ext);
      const el = h(audio ? 'audio' : 'video', { controls: true, preload: 'metadata', src: url, id: kind === 'main' ? 'player' : null });
      const note = h('div', { class: 'player-note', hidden: true });
      el.addEventListener('error', () => {
        el.hidden = true;
        note.hidden = false;
        note.textContent = `This ${ext ? ext.toUpperCase() + ' ' : ''}file cannot be played here: the browser could not load or decode it. Download it instead.`;
      });
      return [el, note];
    }

    function downloadLink(url, name, label, primary) {
      return h('a', { class: 'button-link' + (primary ? ' primary' : ''), href: url, download: name || '', title: name || null }, label);
    }

    function renderPlayer(r) {
      const main = typeof r.download_url === 'string' ? safeUrl(r.download_url) : null;
      const audio = safeUrl(r.audio_download_url);
      const layers = Array.isArray(r.download_url) ? r.download_url : null;
      const expired = r.download_url_expiry && new Date(r.download_url_expiry) < new Date();
      const key = JSON.stringify([r.status, main, audio, layers, expired]);
      if (key === playerKey) return;
      playerKey = key;
      if (r.status !== 'UPLOADED') {
        const note = {
          INVOKED: 'Waiting for the recorder to join the meeting…',
          RECORDING: 'Recording in progress. The player appears when the file is uploaded.',
          PAUSED: 'Paused. Resume or stop the recording; the player appears when the file is uploaded.',
          UPLOADING: 'Uploading the file…',
          ERRORED: 'This recording ended with an error: there is no file.',
        }[r.status] || r.status;
        replace(player, h('div', { class: 'player-note' }, note));
        return;
      }
      if (expired) {
        replace(player, h('div', { class: 'player-note' }, 'The download link has expired and the file has been (or will be) deleted from the default bucket.'));
        return;
      }
      const parts = [];
      if (main) {
        parts.push(mediaFor(main, r.output_file_name, 'main'));
      } else if (layers) {
        parts.push(h('h2', null, 'Track files'));
        for (const layer of layers) {
          const files = Object.entries((layer && layer.download_urls) || {});
          parts.push(h('div', { class: 'layer', dataset: { layer: String(layer.layer_name || '') } },
            h('strong', null, `Layer ${layer.layer_name || ''}`), h('span', { class: 'muted' }, ` · ${plural(files.length, 'file', 'files')}`),
            h('ul', null, files.map(([name, f]) => {
              const u = safeUrl(f && f.download_url);
              return h('li', null, u ? [h('a', { class: 'track-file', href: u, download: name }, name), h('div', null, mediaFor(u, name, /_video_/i.test(name) ? 'track' : 'audio'))] : h('span', null, name));
            }))));
        }
      } else if (audio) {
        parts.push(mediaFor(audio, r.output_file_name, 'audio'));
      } else {
        parts.push(h('div', { class: 'player-note' }, 'No file in the default bucket: this recording was delivered to its storage destination only.'));
      }
      const links = [];
      if (main) links.push(downloadLink(main, r.output_file_name, 'Download ' + (extensionOf(r.output_file_name) || 'file').toUpperCase(), true));
      if (audio) links.push(downloadLink(audio, null, 'Download audio', !main));
      if (links.length) parts.push(h('div', { class: 'downloads', id: 'downloads' }, links));
      if (r.download_url_expiry) parts.push(h('p', { class: 'muted small' }, 'Links expire ', when(r.download_url_expiry), '.'));
      replace(player, parts);
    }

    function reason(x) {
      if (!x) return '—';
      const c = x.caller;
      return x.reason + (c ? ` (${[c.type, c.name].filter(Boolean).join(' ')})` : '');
    }

    async function refresh() {
      const r = (await api('GET', kit('/recordings/' + encodeURIComponent(id)))).data;
      if (meetingTitle === null && r.meeting_id) {
        try {
          meetingTitle = (await api('GET', kit('/meetings/' + encodeURIComponent(r.meeting_id)))).data.title || 'Untitled meeting';
        } catch {
          meetingTitle = '';
        }
      }
      const sig = JSON.stringify(r);
      if (sig === signature) return;
      signature = sig;
      heading.textContent = r.output_file_name || r.id;
      heading.title = r.output_file_name || '';
      document.title = (r.output_file_name || 'Recording') + ' · Capstan';
      replace(statusSlot, badge(r.status));
      replace(actions, controlsFor(r));
      const storage = r.storage_config ? [r.storage_config.type, r.storage_config.bucket || r.storage_config.host, r.storage_config.path].filter(Boolean).join(' · ') : 'Default bucket';
      replace(facts,
        h('dt', null, 'Status'), h('dd', null, badge(r.status)),
        r.error_message ? [h('dt', null, 'Error'), h('dd', { class: 'error-text', id: 'recording-error' }, r.error_message)] : null,
        h('dt', null, 'Meeting'), h('dd', null, h('a', { href: '#/meetings/' + encodeURIComponent(r.meeting_id || '') }, meetingTitle || r.meeting_id || '—')),
        h('dt', null, 'Type'), h('dd', null, r.type === 'TRACK' ? 'Track (one file per participant)' : 'Composite'),
        h('dt', null, 'Duration'), h('dd', { id: 'recording-duration', dataset: { seconds: String(r.recording_duration ?? '') } }, ACTIVE.includes(r.status) ? 'in progress' : r.status === 'ERRORED' && !r.recording_duration ? '—' : duration(r.recording_duration)),
        h('dt', null, 'Size'), h('dd', { id: 'recording-size', dataset: { bytes: r.file_size === null || r.file_size === undefined ? '' : String(r.file_size) } }, bytes(r.file_size), r.file_size ? h('span', { class: 'muted small' }, ` (${r.file_size} bytes)`) : null),
        h('dt', null, 'Invoked'), h('dd', null, when(r.invoked_time)),
        h('dt', null, 'Started'), h('dd', null, when(r.started_time)),
        h('dt', null, 'Stopped'), h('dd', null, when(r.stopped_time)),
        h('dt', null, 'Start reason'), h('dd', null, reason(r.start_reason)),
        h('dt', null, 'Stop reason'), h('dd', null, reason(r.stop_reason)),
        h('dt', null, 'Storage'), h('dd', null, storage),
        h('dt', null, 'Recording id'), h('dd', { class: 'mono' }, r.id),
        h('dt', null, 'Session id'), h('dd', { class: 'mono' }, r.session_id || '—'),
        r.sha256 ? [h('dt', null, 'SHA-256'), h('dd', { class: 'mono small' }, r.sha256)] : null);
      renderPlayer(r);
    }

    return { root, refresh };
  }

  // ---------------------------------------------------------------------------------------------- system

  /** The deployment: readiness checks, recorder nodes (slots, busy, warm; LOST or DRAINING: told to stop, it takes
   *  no new recording and hands the running ones over when its drain runs out), the queue, Janus (GET …/system). */
  function systemView() {
    const status = h('span', { id: 'system-status' });
    const checks = h('tbody', null, h('tr', { class: 'loading-row' }, h('td', { colspan: 3 }, 'Loading…')));
    const nodes = h('tbody', null, h('tr', { class: 'loading-row' }, h('td', { colspan: 7 }, 'Loading…')));
    const queue = h('dl', { class: 'facts', id: 'system-queue' });
    const janus = h('dl', { class: 'facts', id: 'system-janus' });
    const recordings = h('dl', { class: 'facts', id: 'system-recordings' });
    let signature = '';

    const root = h('section', { 'aria-labelledby': 'system-h' },
      h('div', { class: 'page-head' }, h('div', { class: 'grow' }, h('h1', { id: 'system-h' }, 'System ', status),
        h('div', { class: 'muted' }, 'The whole deployment: recorder nodes, the queue, Janus and this server\'s readiness (/readyz).'))),
      h('div', { class: 'grid-2' },
        h('div', { class: 'stack' },
          h('div', { class: 'card' }, h('h2', null, 'Recorder nodes'),
            h('div', { class: 'table-wrap' }, h('table', { id: 'nodes-table' },
              h('thead', null, h('tr', null, h('th', null, 'Node'), h('th', { class: 'num' }, 'Slots'), h('th', { class: 'num' }, 'Busy'), h('th', { class: 'num' }, 'Warm'), h('th', null, 'Measured capacity'),
                h('th', { class: 'num' }, 'Jobs held'), h('th', null, 'Up since'), h('th', null, 'Last report'))),
              nodes))),
          h('div', { class: 'card' }, h('h2', null, 'Readiness checks'),
            h('div', { class: 'table-wrap' }, h('table', { id: 'checks-table' },
              h('thead', null, h('tr', null, h('th', null, 'Check'), h('th', null, 'Status'), h('th', null, 'Detail'))), checks)))),
        h('div', { class: 'stack' },
          h('div', { class: 'card' }, h('h2', null, 'Queue'), queue),
          h('div', { class: 'card' }, h('h2', null, 'Janus'), janus),
          h('div', { class: 'card' }, h('h2', null, 'Active recordings'), recordings))));

    /** "4 s ago" from the server's own clock (its answer's now), so a skewed browser clock does not matter. */
    function ago(iso, now) {
      if (!iso) return h('span', { class: 'muted' }, 'no report');
      const s = Math.max(0, Math.round((new Date(now) - new Date(iso)) / 1000));
      return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
    }

    function facts(dl, pairs) {
      replace(dl, pairs.map(([k, v, id]) => [h('dt', null, k), h('dd', { dataset: { fact: id } }, v)]));
    }

    async function refresh() {
      const res = await api('GET', `/accounts/${encodeURIComponent(session.account)}/system`);
      const d = res.data;
      const sig = JSON.stringify(d);
      if (sig === signature) return;
      signature = sig;
      replace(status, badge(d.status === 'ready' ? 'READY' : 'NOT_READY'));
      status.dataset.status = d.status;
      replace(checks, Object.entries(d.checks).map(([name, c]) => h('tr', { dataset: { check: name, status: c.status } },
        h('td', null, name), h('td', null, badge(c.status === 'ok' ? 'OK' : 'FAILING')), h('td', { class: 'small' }, c.description || ''))));
      if (!d.nodes.length) {
        replace(nodes, h('tr', null, h('td', { colspan: 8 }, empty('No recorder node is running.', h('span', null, 'Start one with ', h('code', null, './capstan worker'), ', or set Recorder:Enabled on this server.')))));
      } else {
        replace(nodes, d.nodes.map((n) => h('tr', { dataset: { node: n.node, owner: n.owner, lost: String(n.lost), state: n.state } },
          h('td', null, h('div', { class: 'cell-title' }, n.node, n.this_process ? h('span', { class: 'muted small' }, ' (this server)') : null,
            n.role !== 'composite' ? h('span', { class: 'muted small' }, ` (${n.role} recorder)`) : null, n.lost ? [' ', badge('LOST')] : null,
            !n.lost && n.state === 'draining' ? [' ', h('span', { title: `draining since ${n.draining_since}` }, badge('DRAINING'))] : null),
            h('div', { class: 'cell-sub mono' }, n.owner)),
          h('td', { class: 'num slots' }, String(n.slots)),
          h('td', { class: 'num busy' }, String(n.busy)),
          h('td', { class: 'num warm' }, String(n.warm)),
          h('td', { class: 'capacity small' }, capacity(n.capacity)),
          h('td', { class: 'num jobs' }, String(n.jobs)),
          h('td', null, when(n.started_at)),
          h('td', { class: 'nowrap seen', title: n.seen_at || '' }, ago(n.seen_at, d.now)))));
      }
      facts(queue, [['Waiting for a worker', String(d.queue.depth), 'depth'], ['Oldest since', when(d.queue.oldest_since), 'oldest']]);
      facts(janus, [['Instances', String(d.janus.instances), 'instances'], ['Rooms', String(d.janus.rooms), 'rooms'], ['Participants', String(d.janus.participants), 'participants']]);
      facts(recordings, Object.entries(d.active_recordings).map(([k, v]) => [k, String(v), k]));
    }

    /** What a node measured (admission by cost): cores and memory its recordings use of what they may, and the
     * estimate per cost class (kind:size; "prior" until measured). */
    function capacity(c) {
      if (!c) return h('span', { class: 'muted' }, 'not measured');
      const gib = (b) => (b / 1073741824).toFixed(1);
      const classes = Object.entries(c.classes || {}).map(([k, e]) => `${k} ${e.cores.toFixed(2)} core, ${Math.round(e.memory_bytes / 1048576)} MiB${e.measured ? '' : ' (prior)'}`);
      return h('div', { title: classes.join('\n') },
        h('div', { class: 'mono' }, `CPU ${c.cpu_used.toFixed(2)} / ${c.cpu_cores.toFixed(2)} core`),
        h('div', { class: 'mono' }, `memory ${gib(c.memory_used_bytes)} / ${gib(c.memory_bytes)} GiB`),
        classes.length ? h('div', { class: 'muted' }, `${classes.length} cost class${classes.length === 1 ? '' : 'es'} (hover)`) : null);
    }

    return { root, refresh };
  }

  // ---------------------------------------------------------------------------------------------- routing

  function parseHash() {
    const raw = location.hash.replace(/^#/, '') || '/meetings';
    const [path, q] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const params = Object.fromEntries(new URLSearchParams(q || ''));
    if (parts[0] === 'recordings' && parts[1]) return { name: 'recording:' + parts[1], make: () => recordingView(parts[1]), tab: 'recordings' };
    if (parts[0] === 'recordings') return { name: 'recordings', make: () => recordingsView(params), params, tab: 'recordings' };
    if (parts[0] === 'meetings' && parts[1]) return { name: 'meeting:' + parts[1], make: () => meetingView(parts[1]), tab: 'meetings' };
    if (parts[0] === 'system') return { name: 'system', make: systemView, tab: 'system' };
    return { name: 'meetings', make: meetingsView, tab: 'meetings' };
  }

  function route() {
    if (!session.account) return;
    const r = parseHash();
    for (const [id, tab] of [['nav-meetings', 'meetings'], ['nav-recordings', 'recordings'], ['nav-system', 'system']]) {
      if (r.tab === tab) $(id).setAttribute('aria-current', 'page'); else $(id).removeAttribute('aria-current');
    }
    if (!session.app) {
      replace($('view'), empty('This account has no apps.', h('span', null, 'Create one with ', h('code', null, 'POST /client/v4/accounts/{account_id}/realtime/kit/apps'), ' and reload.')));
      return;
    }
    if (current && current.name === r.name && current.view.update) {
      current.view.update(r.params || {});
      refreshNow();
      return;
    }
    generation++;
    document.title = 'Capstan dashboard';
    const view = r.make();
    current = { name: r.name, view };
    replace($('view'), view.root);
    hideBanner();
    refreshNow();
  }

  async function refreshNow() {
    if (!current || !current.view.refresh) return;
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    refreshAgain = false;
    const gen = generation;
    const shown = current;
    try {
      await shown.view.refresh();
      if (gen === generation) {
        $('updated').textContent = 'Updated ' + timeFmt.format(new Date());
        if (refreshError) hideBanner();
        if (!shown.loaded) {
          shown.loaded = true;
          if (!shown.view.root.isConnected) replace($('view'), shown.view.root);
        }
      }
    } catch (e) {
      if (gen !== generation) return;
      if (e instanceof ApiError && e.status === 401) { signOut('Your API token is no longer valid. Sign in again.'); return; }
      const message = e instanceof ApiError ? e.plain : String(e);
      if (!shown.loaded) {
        // Nothing to show yet (an unknown id, the server down): say so in place of the page; retried every few seconds.
        replace($('view'), h('div', { class: 'card', id: 'view-error' }, empty('This page could not be loaded.', h('span', { class: 'error-text' }, message)),
          h('p', { class: 'small' }, h('a', { href: '#/meetings' }, 'Meetings'), ' · ', h('a', { href: '#/recordings' }, 'Recordings'))));
      } else {
        showBanner(message, true);
      }
    } finally {
      refreshing = false;
      if (refreshAgain) refreshNow();
    }
  }

  // ---------------------------------------------------------------------------------------------- sign in / out

  async function signIn(token) {
    const verify = await api('GET', '/user/tokens/verify', undefined, token);
    const account = verify.data.account_id;
    const apps = await api('GET', `/accounts/${encodeURIComponent(account)}/realtime/kit/apps` + query({ per_page: 100, sort_order: 'ASC' }), undefined, token);
    session.token = token;
    session.account = account;
    session.apps = apps.data;
    const saved = sessionStorage.getItem(APP_KEY);
    session.app = (session.apps.find((a) => a.id === saved) || session.apps[0] || {}).id || null;
    sessionStorage.setItem(TOKEN_KEY, token);
    const select = $('app-select');
    replace(select, session.apps.map((a) => h('option', { value: a.id }, `${a.name} · ${a.id.slice(0, 8)}`)));
    select.value = session.app || '';
    select.disabled = session.apps.length < 2;
    $('account').textContent = account;
    $('account').title = 'Account ' + account;
    $('signin').hidden = true;
    $('shell').hidden = false;
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(APP_KEY);
    session.token = session.account = session.app = null;
    session.apps = [];
    current = null;
    generation++;
    $('view').replaceChildren();
    $('shell').hidden = true;
    $('signin').hidden = false;
    $('token').value = '';
    const err = $('signin-error');
    err.hidden = !message;
    err.textContent = message || '';
    document.title = 'Capstan dashboard';
    $('token').focus();
  }

  function start() {
    $('signin-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const token = $('token').value.trim();
      const err = $('signin-error');
      const button = $('signin-button');
      if (!token) { err.textContent = 'Enter an API token.'; err.hidden = false; return; }
      err.hidden = true;
      button.disabled = true;
      button.textContent = 'Signing in…';
      try {
        await signIn(token);
        route();
      } catch (ex) {
        err.textContent = 'Sign-in failed: ' + (ex instanceof ApiError ? ex.plain : String(ex));
        err.hidden = false;
      } finally {
        button.disabled = false;
        button.textContent = 'Sign in';
      }
    });
    $('signout').addEventListener('click', () => signOut(null));
    $('banner-close').addEventListener('click', hideBanner);
    $('app-select').addEventListener('change', (e) => {
      session.app = e.target.value;
      sessionStorage.setItem(APP_KEY, session.app);
      current = null;
      location.hash = '#/meetings';
      route();
    });
    window.addEventListener('hashchange', route);
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') refreshNow(); });
    setInterval(() => { if (document.visibilityState === 'visible') refreshNow(); }, REFRESH_MS);

    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) {
      signIn(saved).then(route, (ex) => {
        if (ex instanceof ApiError && ex.status === 401) signOut('Your API token is no longer valid. Sign in again.');
        else { signOut(null); $('signin-error').textContent = 'Sign-in failed: ' + (ex instanceof ApiError ? ex.plain : String(ex)); $('signin-error').hidden = false; }
      });
    } else {
      $('signin').hidden = false;
      $('token').focus();
    }
  }

  start();
})();
