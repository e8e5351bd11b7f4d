#!/usr/bin/env node
// An SMSC test peer for dunning's SMPP adapter, built on the npm `smpp` package (0.5.x) as a server.
//
// Usage: node server.js --log FILE [--system-id ID] [--password PW] [--dlr-delay-ms N] [--variant V]
// It listens on two free 127.0.0.1 ports (or --port / --control-port) and prints one JSON line
// {"smpp": PORT, "control": PORT} on stdout when ready.
//
// Behaviour a test relies on:
// * Every submit_sm is appended to the log file as one JSON line:
//   {"t": ms, "id": smsc_message_id|null, "status": command_status, "sys": system_id, "dst": ..., "src": ...,
//    "ref": client reference (vendor TLV 0x1501), "umr": user_message_reference, "part": n, "parts": total,
//    "cref": concat ref, "dc": data_coding, "text": decoded text}
//   Only lines with status 0 were accepted; the crash test counts those per "ref".
// * Destination numbers decide outcomes: ...0000 rejected (ESME_RINVDSTADR), ...0001 receipt UNDELIV,
//   ...0002 receipt EXPIRED, ...0003 no receipt, anything else DELIVRD.
// * Receipts (deliver_sm, esm_class 0x04) follow after --dlr-delay-ms, one per accepted part, in the
//   current variant: "standard" (text + receipted_message_id/message_state TLVs), "text_only" (no TLVs),
//   "minimal" (text without sub/dlvrd, no TLVs), "undecodable" (TLVs, binary garbage as text).
// * query_sm with an empty message_id and the client reference TLV (0x1501) answers the message_id the
//   reference was accepted under (all part ids, comma-separated, in vendor TLV 0x1502), or ESME_RQUERYFAIL
//   when it never was (a vendor extension for reconciliation).
// * --mode standard: behaves as SMPP 3.4 allows and a carrier SMSC does, not as a friendly vendor:
//   - no lookup by the client reference: query_sm by message_id only; an id it does not know (or a query by
//     reference) is answered ESME_RQUERYFAIL;
//   - --max-rate N (or POST /rate): more than N accepted submit_sm in any one-second window are refused with
//     ESME_RTHROTTLED;
//   - every deliver_sm (receipt or MO) that was not answered with deliver_sm_resp when its session ends is
//     delivered again on the next bind (store and forward); GET /acked lists what was acknowledged;
//   - message ids start from the clock, so a restarted peer (SmppPeer.restart) never reuses one.
// * Control HTTP (127.0.0.1 only), JSON bodies:
//   POST /throttle {"status": "throttled"|"msgqful", "count": N, "after": K}
//                                      after K more accepted submits, the next N get that error
//   POST /mute {"count": N}            the next N submits are logged (status -1) and never answered
//   POST /variant {"variant": V}       receipt variant for later submits
//   POST /mo {"from", "to", "text"}    an MO deliver_sm (UCS-2) to a bound receiver session
//   POST /drop                         close every session abruptly (reconnect tests)
//   POST /flush                        resolves once every log line written so far is on disk
//   GET  /stats                        counters
//   POST /rate {"per_second": N}       throttle above N accepted submits a second (0: off)
//   POST /mute_queries {"on": bool}    query_sm are read but never answered (an SMSC that hangs)
//   GET  /acked                        receipts (message ids) and MO (from, text) acknowledged by the ESME
'use strict';

const fs = require('fs');
const http = require('http');
const smpp = require('smpp');

const CLIENT_REF_TLV = 0x1501;
smpp.addTLV('dunning_ref', { id: CLIENT_REF_TLV, type: smpp.types.tlv.cstring });
smpp.addTLV('dunning_parts', { id: 0x1502, type: smpp.types.tlv.cstring });

function parseArgs(argv) {
  const opts = {
    port: 0, controlPort: 0, log: null, systemId: 'dunning', password: 'secret',
    dlrDelayMs: 20, variant: 'standard', mode: 'vendor', maxRate: 0,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i], value = argv[i + 1];
    if (key === '--port') opts.port = Number(value);
    else if (key === '--control-port') opts.controlPort = Number(value);
    else if (key === '--log') opts.log = value;
    else if (key === '--system-id') opts.systemId = value;
    else if (key === '--password') opts.password = value;
    else if (key === '--dlr-delay-ms') opts.dlrDelayMs = Number(value);
    else if (key === '--variant') opts.variant = value;
    else if (key === '--mode') opts.mode = value;
    else if (key === '--max-rate') opts.maxRate = Number(value);
    else throw new Error('unknown argument ' + key);
  }
  if (!opts.log) throw new Error('--log FILE is required');
  return opts;
}

const opts = parseArgs(process.argv);
const log = fs.createWriteStream(opts.log, { flags: 'a' });
const standard = opts.mode === 'standard';
const state = {
  // standard mode: ids from the clock, so a restarted peer never hands out an id twice
  nextId: standard ? Date.now() * 10 : 1000000000,
  maxRate: opts.maxRate,
  acceptedTimes: [], // accepted submit times (ms) within the last second, for --max-rate
  muteQueries: false,
  ids: new Map(), // standard mode: message_id -> {state}
  acked: { receipts: [], mo: [] },
  throttle: { status: 0, count: 0, after: 0 },
  mute: 0, // the next N submits are logged but never answered (a peer that went silent)
  variant: opts.variant,
  refs: new Map(), // client reference -> accepted message_ids of its parts, in part order
  stats: { submits: 0, accepted: 0, rejected: 0, throttled: 0, receipts: 0, mo: 0, binds: 0, queries: 0,
           redelivered: 0, acked: 0 },
};
const receivers = new Set(); // bound sessions that may receive deliver_sm
const pendingReceipts = []; // receipts waiting for a bound receiver (store and forward)

function pad(n) { return String(n).padStart(2, '0'); }
function smppDate(d) {
  return pad(d.getUTCFullYear() % 100) + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) +
    pad(d.getUTCHours()) + pad(d.getUTCMinutes()) + pad(d.getUTCSeconds());
}

function ucs2(text) {
  return Buffer.from(text, 'utf16le').swap16();
}

function outcomeFor(dst) {
  if (dst.endsWith('0001')) return { stat: 'UNDELIV', state: 5, err: '001' };
  if (dst.endsWith('0002')) return { stat: 'EXPIRED', state: 3, err: '006' };
  if (dst.endsWith('0003')) return null;
  return { stat: 'DELIVRD', state: 2, err: '000' };
}

function receiptPdu(sub, messageId, outcome, variant, now) {
  const date = smppDate(now);
  let text;
  const base = {
    source_addr_ton: sub.dest_addr_ton, source_addr_npi: sub.dest_addr_npi, source_addr: sub.destination_addr,
    dest_addr_ton: sub.source_addr_ton, dest_addr_npi: sub.source_addr_npi, destination_addr: sub.source_addr,
    esm_class: 0x04, data_coding: 0,
  };
  if (variant === 'minimal') {
    text = `id:${messageId} stat:${outcome.stat} err:${outcome.err}`;
  } else {
    text = `id:${messageId} sub:001 dlvrd:${outcome.state === 2 ? '001' : '000'} submit date:${date.slice(0, 10)} ` +
      `done date:${date.slice(0, 10)} stat:${outcome.stat} err:${outcome.err} text:`;
  }
  if (variant === 'undecodable') {
    // odd length, claims UCS-2, invalid surrogates: a receipt whose text nobody can decode
    base.data_coding = 0x08;
    base.short_message = Buffer.from([0xd8, 0x00, 0xff, 0xfe, 0x00, 0xdc, 0x7f]);
  } else {
    base.short_message = Buffer.from(text, 'latin1');
  }
  if (variant === 'standard' || variant === 'undecodable') {
    base.receipted_message_id = messageId;
    base.message_state = outcome.state;
    base.network_error_code = Buffer.from([0x03, 0x00, Number(outcome.err) & 0xff]);
  }
  return base;
}

// The most recently bound receiver of that system_id (an MO goes to the newest link), or the preferred
// session when it is still bound (a receipt goes back on the link its submit came from, when it can).
function pickReceiver(systemId, preferred) {
  if (preferred && !preferred.closed && receivers.has(preferred)) return preferred;
  let found = null;
  for (const s of receivers) {
    if (s.systemId === systemId && s.canReceive && !s.closed) found = s;
  }
  return found;
}

// Send a deliver_sm and remember it until the ESME answers; standard mode delivers it again after a reconnect
// when the session ended first. ``item.ack`` says what to record once acknowledged.
function deliver(session, item) {
  if (!session.unacked) session.unacked = new Map();
  const token = {};
  session.unacked.set(token, item);
  session.send(item.pdu, () => {
    if (!session.unacked.delete(token)) return;
    state.stats.acked += 1;
    if (item.ack && item.ack.receipt) state.acked.receipts.push(item.ack.receipt);
    if (item.ack && item.ack.mo) state.acked.mo.push(item.ack.mo);
  });
}

function requeueUnacked(session) {
  if (!standard || !session.unacked) return;
  for (const item of session.unacked.values()) {
    // a fresh PDU object: the library stamps a new sequence number on the next send
    pendingReceipts.push({ systemId: item.systemId, session: null, pdu: new smpp.PDU('deliver_sm', item.fields),
                           fields: item.fields, ack: item.ack });
    state.stats.redelivered += 1;
  }
  session.unacked.clear();
}

function flushReceipts() {
  let i = 0;
  while (i < pendingReceipts.length) {
    const item = pendingReceipts[i];
    const session = pickReceiver(item.systemId, item.session);
    if (!session) { i += 1; continue; }
    pendingReceipts.splice(i, 1);
    deliver(session, item);
    if (item.ack && item.ack.receipt) state.stats.receipts += 1;
  }
}

let flushTimer = null;
function scheduleReceipt(session, fields, messageId) {
  pendingReceipts.push({ systemId: session.systemId, session, pdu: new smpp.PDU('deliver_sm', fields), fields,
                         ack: { receipt: messageId } });
  if (!flushTimer) {
    flushTimer = setTimeout(() => { flushTimer = null; flushReceipts(); }, opts.dlrDelayMs);
  }
}

function concatInfo(sm) {
  if (!sm || !sm.udh) return null;
  for (const h of sm.udh) {
    if (h[0] === 0x00 && h.length >= 5) return { cref: h[2], parts: h[3], part: h[4] };
    if (h[0] === 0x08 && h.length >= 6) return { cref: h.readUInt16BE(2), parts: h[4], part: h[5] };
  }
  return null;
}

function handleSubmit(session, pdu) {
  if (state.frozen) return;
  state.stats.submits += 1;
  const ref = pdu.dunning_ref || null;
  const sm = pdu.short_message || {};
  const concat = concatInfo(sm);
  let status = 0;
  if (state.mute > 0) {
    state.mute -= 1;
    log.write(JSON.stringify({
      t: Date.now(), id: null, status: -1, sys: session.systemId, dst: pdu.destination_addr, ref,
      part: concat ? concat.part : 1, parts: concat ? concat.parts : 1, cref: concat ? concat.cref : null,
    }) + '\n');
    return;
  }
  if (state.throttle.after > 0) {
    state.throttle.after -= 1;
  } else if (state.throttle.count > 0) {
    status = state.throttle.status;
    state.throttle.count -= 1;
    state.stats.throttled += 1;
  } else if (state.maxRate > 0 && overRate()) {
    status = smpp.ESME_RTHROTTLED;
    state.stats.throttled += 1;
  } else if (pdu.destination_addr.endsWith('0000')) {
    status = smpp.ESME_RINVDSTADR;
    state.stats.rejected += 1;
  }
  let messageId = null;
  if (status === 0) {
    messageId = String(state.nextId++);
    state.stats.accepted += 1;
    if (state.maxRate > 0) state.acceptedTimes.push(Date.now());
    if (standard) state.ids.set(messageId, { state: 1 });
    if (ref) {
      if (!state.refs.has(ref)) state.refs.set(ref, []);
      state.refs.get(ref).push(messageId);
    }
  }
  log.write(JSON.stringify({
    t: Date.now(), id: messageId, status, sys: session.systemId, src: pdu.source_addr, dst: pdu.destination_addr,
    ref, umr: pdu.user_message_reference === undefined ? null : pdu.user_message_reference,
    part: concat ? concat.part : 1, parts: concat ? concat.parts : 1, cref: concat ? concat.cref : null,
    dc: pdu.data_coding, text: typeof sm.message === 'string' ? sm.message : null,
  }) + '\n');
  if (status !== 0) {
    session.send(pdu.response({ command_status: status }));
    return;
  }
  session.send(pdu.response({ message_id: messageId }));
  if (pdu.registered_delivery & 0x01) {
    const outcome = outcomeFor(pdu.destination_addr);
    if (outcome) scheduleReceipt(session, receiptPdu(pdu, messageId, outcome, state.variant, new Date()), messageId);
  }
}

function overRate() {
  const now = Date.now();
  while (state.acceptedTimes.length && state.acceptedTimes[0] <= now - 1000) state.acceptedTimes.shift();
  return state.acceptedTimes.length >= state.maxRate;
}

function handleQuery(session, pdu) {
  state.stats.queries += 1;
  if (state.muteQueries) return;
  if (standard) {
    // SMPP 3.4 4.8: by message_id only; the vendor reference TLV means nothing here
    const known = pdu.message_id ? state.ids.get(pdu.message_id) : undefined;
    if (!known) {
      session.send(pdu.response({ command_status: smpp.ESME_RQUERYFAIL }));
      return;
    }
    session.send(pdu.response({ message_id: pdu.message_id, final_date: '', message_state: known.state,
                                error_code: 0 }));
    return;
  }
  const ref = pdu.dunning_ref || null;
  const found = ref ? state.refs.get(ref) : undefined;
  if (!found) {
    session.send(pdu.response({ command_status: smpp.ESME_RQUERYFAIL }));
    return;
  }
  session.send(pdu.response({
    message_id: found[0], final_date: '', message_state: 6, error_code: 0, dunning_parts: found.join(','),
  }));
}

const server = smpp.createServer((session) => {
  // TCP_NODELAY, as SMSCs set it: a deliver_sm acknowledged only after the ESME's commit must not hold the next
  // submit_sm_resp back behind Nagle's algorithm
  if (session.socket && session.socket.setNoDelay) session.socket.setNoDelay(true);
  session.systemId = null;
  session.bound = false;
  session.canReceive = false;
  session.closed = false;
  const bindHandler = (canReceive) => (pdu) => {
    if (pdu.system_id !== opts.systemId) {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      return;
    }
    if (pdu.password !== opts.password) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
      return;
    }
    session.systemId = pdu.system_id;
    session.bound = true;
    session.canReceive = canReceive;
    state.stats.binds += 1;
    session.send(pdu.response({ system_id: 'dunning-peer' }));
    if (canReceive) {
      receivers.add(session);
      flushReceipts();
    }
  };
  session.on('bind_transceiver', bindHandler(true));
  session.on('bind_receiver', bindHandler(true));
  session.on('bind_transmitter', bindHandler(false));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('submit_sm', (pdu) => {
    if (!session.bound) { session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS })); return; }
    handleSubmit(session, pdu);
  });
  session.on('query_sm', (pdu) => {
    if (!session.bound) { session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS })); return; }
    handleQuery(session, pdu);
  });
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.closed = true;
    receivers.delete(session);
    session.close();
  });
  session.on('unknown', (pdu) => session.send(pdu.response()));
  session.on('close', () => { session.closed = true; receivers.delete(session); requeueUnacked(session); });
  session.on('error', () => { session.closed = true; receivers.delete(session); requeueUnacked(session); });
});

function readJson(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      try { resolve(body ? JSON.parse(body) : {}); } catch (e) { resolve({}); }
    });
  });
}

const control = http.createServer(async (req, res) => {
  const body = req.method === 'POST' ? await readJson(req) : {};
  const reply = (code, obj) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  };
  if (req.url === '/throttle') {
    state.throttle = {
      status: body.status === 'msgqful' ? smpp.ESME_RMSGQFUL : smpp.ESME_RTHROTTLED,
      count: Number(body.count || 0),
      after: Number(body.after || 0),
    };
    return reply(200, state.throttle);
  }
  if (req.url === '/rate') {
    state.maxRate = Number(body.per_second || 0);
    state.acceptedTimes = [];
    return reply(200, { per_second: state.maxRate });
  }
  if (req.url === '/mute_queries') {
    state.muteQueries = Boolean(body.on);
    return reply(200, { mute_queries: state.muteQueries });
  }
  if (req.url === '/acked') {
    return reply(200, state.acked);
  }
  if (req.url === '/mute') {
    state.mute = Number(body.count || 0);
    return reply(200, { mute: state.mute });
  }
  if (req.url === '/variant') {
    state.variant = String(body.variant || 'standard');
    return reply(200, { variant: state.variant });
  }
  if (req.url === '/mo') {
    const session = pickReceiver(opts.systemId);
    if (!session) return reply(409, { error: 'no bound receiver' });
    const from = String(body.from || '8613800138000');
    const text = String(body.text || '');
    // a reply longer than one UCS-2 SMS arrives as concatenated parts (8-bit ref UDH), as a handset sends it
    const units = Buffer.from(text, 'utf16le').length / 2;
    const chunks = [];
    if (units <= 70) chunks.push(ucs2(text));
    else for (let i = 0; i < text.length; i += 67) chunks.push(ucs2(text.slice(i, i + 67)));
    const cref = (state.stats.mo + 1) & 0xff;
    chunks.forEach((chunk, i) => {
      const multi = chunks.length > 1;
      const udh = multi ? Buffer.from([0x05, 0x00, 0x03, cref, chunks.length, i + 1]) : Buffer.alloc(0);
      const fields = {
        source_addr_ton: from.startsWith('+') ? 1 : 0, source_addr_npi: 1, source_addr: from.replace(/^\+/, ''),
        dest_addr_ton: 0, dest_addr_npi: 1, destination_addr: String(body.to || '1069012345'),
        esm_class: multi ? 0x40 : 0, data_coding: 0x08, short_message: Buffer.concat([udh, chunk]),
      };
      const last = i === chunks.length - 1;
      deliver(session, { systemId: session.systemId, pdu: new smpp.PDU('deliver_sm', fields), fields,
                         ack: last ? { mo: { from, text, parts: chunks.length } } : null });
    });
    state.stats.mo += 1;
    return reply(200, { sent: true });
  }
  if (req.url === '/drop') {
    let n = 0;
    for (const s of server.sessions.slice()) {
      s.closed = true; receivers.delete(s); requeueUnacked(s); s.destroy(); n += 1;
    }
    return reply(200, { dropped: n });
  }
  if (req.url === '/freeze') {
    // before SmppPeer.restart kills the process: stop reading PDUs (what arrives now is lost, as with a crash)
    // and flush the log, so the judge keeps every line of what this SMSC accepted
    state.frozen = true;
    for (const s of server.sessions.slice()) { if (s.socket) s.socket.pause(); }
    return log.write('', () => reply(200, { frozen: true }));
  }
  if (req.url === '/flush') {
    return log.write('', () => reply(200, { flushed: true }));
  }
  if (req.url === '/stats') {
    return reply(200, Object.assign({ pending_receipts: pendingReceipts.length, variant: state.variant,
                                      mode: opts.mode }, state.stats));
  }
  return reply(404, { error: 'unknown path' });
});

let ready = 0;
function announce() {
  ready += 1;
  if (ready === 2) {
    process.stdout.write(JSON.stringify({ smpp: server.address().port, control: control.address().port }) + '\n');
  }
}
server.listen(opts.port, '127.0.0.1', announce);
control.listen(opts.controlPort, '127.0.0.1', announce);

function shutdown() {
  for (const s of server.sessions.slice()) s.destroy();
  log.end(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
